"""The pytest plugin (``pytest11``): the ``--amphora-driver`` option and default fixtures.

It loads in every pytest run where amphora-compute is installed, so it adds
only an option and fixtures; the tests live in ``DriverContract``.  By default
``compute_driver`` is parametrized over every registered Noop plugin;
``--amphora-driver NAME`` (repeatable) points it at any registered backend,
with options from ``--amphora-config FILE`` (the backend's ``[backends.NAME]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("amphora-compute")
    group.addoption("--amphora-driver", action="append", default=[], metavar="BACKEND",
                    help="run the amphora-compute contract suite against this backend "
                         "(default: every registered noop-* backend)")
    group.addoption("--amphora-config", default=None, metavar="FILE",
                    help="config file whose [backends.<name>] options the driver gets")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "amphora_backend" not in metafunc.fixturenames:
        return
    backends = metafunc.config.getoption("--amphora-driver")
    if not backends:
        from amphora_compute.plugins import load_plugins

        backends = [s.backend for s in load_plugins().registry.specs()
                    if s.backend.startswith("noop-")]
    metafunc.parametrize("amphora_backend", backends, scope="session")


@pytest.fixture
def compute_driver(amphora_backend: str, pytestconfig: pytest.Config) -> Iterator[Any]:
    """A fresh driver for ``amphora_backend`` (the contract suite's default)."""
    from amphora_compute.config import load_config
    from amphora_compute.plugins import load_plugins

    path = pytestconfig.getoption("--amphora-config")
    config = load_config(path) if path else None
    options = config.backend_options(amphora_backend) if config else {}
    driver = load_plugins().registry.driver_class(amphora_backend)(options)
    yield driver
    driver.close()
