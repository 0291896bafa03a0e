"""Fixtures shared by every test directory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The repository root on sys.path, so ``tests.services`` imports from any test.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.services._proc import unavailable  # noqa: E402


@pytest.fixture(autouse=True)
def _private_state(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own config or Noop state."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.delenv("AMPHORA_COMPUTE_CONFIG", raising=False)
    monkeypatch.delenv("AMPHORA_NOOP_STATE", raising=False)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[object]:
    """A real redis-server on a free loopback port (skip locally, fail in CI if missing)."""
    from tests.services.redis_server import RedisServer

    server = RedisServer()
    try:
        server.start()
    except (OSError, TimeoutError) as exc:
        unavailable(f"redis-server: {exc}")
    yield server
    server.stop()
