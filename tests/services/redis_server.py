"""A real redis-server on a free loopback port, for the shared-breaker tests and bench."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ._proc import ManagedProcess, free_port, port_open, wait_until


class RedisServer:
    """``redis-server`` with no persistence, bound to 127.0.0.1; stopped by process group."""

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="amphora-redis-"))
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self.process = ManagedProcess(
            "redis", [binary, "--port", str(self.port), "--bind", "127.0.0.1",
                      "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            self.workdir / "redis.log").start()
        try:
            wait_until(lambda: port_open("127.0.0.1", self.port), timeout, what="redis-server")
        except TimeoutError:
            log = self.process.log_tail()
            self.stop()
            raise TimeoutError(f"redis-server did not start: {log}") from None
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=5)
            self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
