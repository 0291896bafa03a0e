"""Functional tests talk to real services started by fixtures; every test here is functional."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/functional/" in str(item.fspath):
            item.add_marker(pytest.mark.functional)
