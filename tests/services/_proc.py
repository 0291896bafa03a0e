"""What every test service shares: free ports, process groups, waits, cached venvs.

Rules of the house this module enforces:
* services bind to free loopback ports (``free_port``);
* a service is stopped by its process group, never by name (``ManagedProcess``);
* a missing service is a skip locally but a failure when
  ``AMPHORA_REQUIRE_FUNCTIONAL=1`` (CI), see ``unavailable``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

REQUIRE_ENV = "AMPHORA_REQUIRE_FUNCTIONAL"


def functional_required() -> bool:
    """True when a missing service must fail the run (CI) instead of skipping."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: a functional test never passes by being skipped."""
    if functional_required():
        pytest.fail(f"functional service unavailable ({REQUIRE_ENV}=1): {reason}", pytrace=False)
    pytest.skip(reason)


def cache_dir() -> Path:
    """Where venvs and other slow-to-make things are kept between runs."""
    base = os.environ.get("AMPHORA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "amphora-compute"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now; SO_REUSEADDR so TIME_WAIT leftovers do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_listen_port(host: str = "127.0.0.1", low: int = 20000, high: int = 32000) -> int:
    """A free port below the kernel's ephemeral range (32768 and up by default).

    For a server that binds seconds after its port was picked (RabbitMQ takes
    10 to 30 s to boot): a port from ``free_port`` is an ephemeral one, which any
    outgoing connection made meanwhile may take as its local port.
    """
    import random

    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {low} and {high} on {host}")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1,
               what: str = "condition") -> None:
    """Poll ``predicate`` until true; TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if predicate():
                return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers with any HTTP status below 500 (no proxy is used)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            return int(resp.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


class ManagedProcess:
    """One service process in its own session; stopped by process group only.

    Output goes to ``log_path`` so a failed start can show the service's own words.
    """

    def __init__(self, name: str, argv: Sequence[str], log_path: Path,
                 env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.cwd, start_new_session=True,
            )
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} not started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout``; reap the leader."""
        if self.proc is None:
            return
        self.signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
        # Children of the leader may outlive it: kill what is left of the group.
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def wait_ready(self, ready: Callable[[], bool], timeout: float, what: str,
                   error: Callable[[str], Exception] = RuntimeError,
                   interval: float = 0.1) -> None:
        """Poll ``ready`` until true.  Raises ``error`` with the log's tail at once if the
        process exits, or after ``timeout`` s (then stopping the process first)."""
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.alive():
                raise error(f"{self.name} exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise error(f"{what} not up after {timeout:.0f}s:\n{tail}")
            time.sleep(interval)

    def kill(self) -> None:
        """Hard kill for fault tests (the service 'goes away')."""
        self.signal_group(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)


def serve_until_stopped(*processes: ManagedProcess) -> ManagedProcess | None:
    """A service run by hand in the foreground: wait for Ctrl-C or SIGTERM, or for one
    of ``processes`` to exit.  Returns the process that exited, None after a signal."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            for process in processes:
                if not process.alive():
                    return process
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock, so two test runs never build one cached venv together."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_venv(name: str, requirements: Sequence[str], python: str | None = None,
                timeout: float = 1800) -> Path:
    """A venv holding ``requirements``, made once and reused while they are unchanged.

    The directory name carries a hash of the requirements, and a marker file is
    written only after a complete install, so an interrupted install is redone.
    """
    digest = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:12]
    venv = cache_dir() / "venvs" / f"{name}-{digest}"
    marker = venv / ".complete"
    with file_lock(cache_dir() / "venvs" / f"{name}.lock"):
        if marker.exists():
            return venv
        if venv.exists():
            subprocess.run(["rm", "-rf", str(venv)], check=True)
        subprocess.run([python or sys.executable, "-m", "venv", str(venv)], check=True,
                       timeout=timeout)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=timeout)
        subprocess.run([*pip, *requirements], check=True, timeout=timeout)
        marker.write_text("\n".join(requirements) + "\n")
    return venv
