"""One persistent netmiko session per device, used by one thread at a time.

netmiko connections are not thread-safe and devices often take one config
session at a time, so each device has exactly one connection guarded by a
lock with a bounded wait (a clear "device busy" error, never a hang).  The
connection is opened lazily, reused across operations and threads, checked
before reuse (``is_alive`` is not trusted: the transport's own state is read),
reopened after a drop, and closed when idle or on ``close()``.

Host keys are verified against the device's ``known_hosts`` file: an unknown
or changed key refuses the connection with a clear error.  Trust on first use
is an explicit per-device opt-in that writes the key it trusted.

This module (with driver.py) is where netmiko and paramiko are imported.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import paramiko
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoBaseException
from netmiko.ssh_dispatcher import CLASS_MAPPER

from amphora_compute.errors import (
    AmphoraComputeError,
    BackendUnavailableError,
    ConfigError,
)

from .profiles import Profile

LOG = logging.getLogger(__name__)
T = TypeVar("T")

_RC_LINE = re.compile(r"^__RC=(\d+)\s*$", re.M)
_EXCERPT = 160


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One device the operator declared (``devices = [...]`` in the config)."""

    name: str
    host: str
    username: str
    profile: str
    capacity: int
    known_hosts: str
    port: int = 22
    key_file: str | None = None
    password_env: str | None = None
    trust_on_first_use: bool = False
    connect_timeout: float = 10.0
    command_timeout: float | None = None
    availability_zone: str | None = None
    slot_network: str | None = None
    slot_address_offset: int = 10
    params: Mapping[str, str] = field(default_factory=dict)


class DeviceUnreachableError(BackendUnavailableError):
    """The device could not be reached, or the session broke during a command."""

    def __init__(self, message: str, *, device: str, lost: bool = False) -> None:
        super().__init__(message, backend="hardware")
        self.device = device
        #: True when an established session dropped (a read may be retried once).
        self.lost = lost


class HostKeyError(DeviceUnreachableError):
    """The device's host key is unknown or differs from known_hosts: refused."""


class DeviceBusyError(AmphoraComputeError):
    """Another operation held the device's session for longer than the lock timeout.

    Not a sign of a broken device, so it does not count against its breaker.
    """

    caller_error = True


class UnexpectedOutputError(AmphoraComputeError):
    """The device answered something the profile cannot read (garbage, a wrong mode)."""


def excerpt(text: str, limit: int = _EXCERPT) -> str:
    """A short, single-line excerpt of device output for an error message."""
    flat = " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    flat = "".join(ch if ch.isprintable() else "?" for ch in flat)
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint of a host key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse unknown host keys, or (opt-in) trust and record them on first use."""

    def __init__(self, session: DeviceSession) -> None:
        self.session = session

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        device = self.session.device
        known = client.get_host_keys().lookup(hostname)
        if known:  # the host is known, but not with this key type: treat as changed
            self.session.host_key_problem = (
                f"device {device.name}: host key for {hostname} changed ({key.get_name()} "
                f"{fingerprint(key)} is not in {device.known_hosts}); refusing to connect")
            raise paramiko.BadHostKeyException(hostname, key, next(iter(known.values())))
        if not device.trust_on_first_use:
            self.session.host_key_problem = (
                f"device {device.name}: host key for {hostname} is unknown ({key.get_name()} "
                f"{fingerprint(key)} is not in {device.known_hosts}); refusing to connect "
                "(add it to known_hosts, or set trust_on_first_use = true)")
            raise paramiko.SSHException(self.session.host_key_problem)
        path = Path(device.known_hosts)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        client.get_host_keys().add(hostname, key.get_name(), key)
        LOG.warning("device %s: trusted unknown host key %s %s of %s on first use (written "
                    "to %s)", device.name, key.get_name(), fingerprint(key), hostname, path)


class _VerifyingClient(paramiko.SSHClient):
    """An SSHClient that remembers a changed host key (netmiko re-wraps the exception)."""

    amp_session: DeviceSession | None = None

    def connect(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().connect(*args, **kwargs)
        except paramiko.BadHostKeyException as exc:
            session = self.amp_session
            if session is not None and session.host_key_problem is None:
                session.host_key_problem = (
                    f"device {session.device.name}: host key for {exc.hostname} changed "
                    f"(got {exc.key.get_name()} {fingerprint(exc.key)}, known_hosts "
                    f"{session.device.known_hosts} has {fingerprint(exc.expected_key)}); "
                    "refusing to connect (possible man-in-the-middle)")
            raise


def _connection_class(base: type[Any], session: DeviceSession) -> type[Any]:
    """A netmiko class for one device: host-key checking and a quick logout.

    netmiko's own cleanup can wait seconds (F5 tmsh waits for a prompt after
    ``quit``, A10 reads 2 s of silence to see if it is in config mode); ours
    writes the profile's logout commands and closes.
    """

    def _build_ssh_client(self: Any) -> paramiko.SSHClient:
        client = _VerifyingClient()
        client.amp_session = session
        path = session.device.known_hosts
        if os.path.isfile(path):
            client.load_host_keys(path)
        client.set_missing_host_key_policy(_HostKeyPolicy(session))
        return client

    def cleanup(self: Any, command: str = "") -> None:
        with contextlib.suppress(Exception):
            for line in session.profile.logout:
                self.write_channel(line + self.RETURN)
        self._session_log_fin = True

    def read_channel(self: Any) -> str:
        # netmiko polls a closed channel until its read timeout; a device that
        # dropped the session is reported at once instead.
        output = base.read_channel(self)
        remote = self.remote_conn
        if not output and remote is not None and (remote.closed or remote.eof_received):
            raise EOFError("the device closed the SSH session")
        return str(output)

    return type(f"Amphora{base.__name__}", (base,),
                {"_build_ssh_client": _build_ssh_client, "cleanup": cleanup,
                 "read_channel": read_channel})


class Channel:
    """What an operation may do on a connected device: commands and uploads."""

    def __init__(self, session: DeviceSession, conn: Any) -> None:
        self._session = session
        self._conn = conn
        self._sftp: paramiko.SFTPClient | None = None

    def send(self, command: str, *, timeout: float | None = None) -> str:
        """Run one command; return its output (exit status checked when the profile says).

        :raises UnexpectedOutputError: a non-zero exit status or no status line.
        """
        session = self._session
        profile = session.profile
        line = command + "; echo __RC=$?" if profile.exit_status else command
        wait = timeout or session.command_timeout
        started = time.monotonic()
        output = self._conn.send_command(
            line, expect_string=profile.prompt.pattern if profile.prompt else None,
            read_timeout=wait, strip_prompt=True, strip_command=True)
        LOG.debug("hardware %s: ran a command in %.0f ms", session.device.name,
                  (time.monotonic() - started) * 1000)
        output = _strip_echo_and_prompt(str(output), line, profile.prompt)
        if not profile.exit_status:
            return str(output)
        codes = _RC_LINE.findall(output)
        if not codes:
            raise UnexpectedOutputError(
                f"device {session.device.name}: no exit status in the answer to a command: "
                f"{excerpt(output)!r}", backend="hardware")
        body = _RC_LINE.sub("", output).strip("\r\n")
        if codes[-1] != "0":
            raise UnexpectedOutputError(
                f"device {session.device.name}: command failed with exit status {codes[-1]}: "
                f"{excerpt(body) or '(no output)'!r}", backend="hardware", fault=excerpt(body))
        return body

    def reset(self) -> None:
        """Bring the CLI back to its base mode after a refused command (profile ``reset``)."""
        self._session._reset_mode()

    def upload(self, path: str, data: bytes, mode: int = 0o600) -> None:
        """Write a file on the device over SFTP on the same SSH connection."""
        sftp = self._sftp_client()
        with sftp.open(path, "wb") as handle:
            handle.chmod(mode)
            handle.write(data)

    def makedirs(self, path: str, mode: int = 0o700) -> None:
        """Create ``path`` and its parents on the device over SFTP (existing ones are fine)."""
        sftp = self._sftp_client()
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            try:
                sftp.stat(current)
            except OSError:
                sftp.mkdir(current, mode)

    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self._conn.remote_conn_pre.open_sftp()
            self._sftp.get_channel().settimeout(self._session.command_timeout)
        return self._sftp

    def close(self) -> None:
        if self._sftp is not None:
            with contextlib.suppress(Exception):
                self._sftp.close()
            self._sftp = None


class DeviceSession:
    """The one connection to one device, its lock, and its reconnect/idle rules."""

    def __init__(self, device: DeviceConfig, profile: Profile, *, lock_timeout: float,
                 idle_timeout: float, session_log_dir: str | None = None,
                 prep_values: Mapping[str, str] | None = None) -> None:
        if profile.netmiko_device_type not in CLASS_MAPPER:
            raise ConfigError(f"devices[{device.name}]: the {profile.family} profile names "
                              f"netmiko device type {profile.netmiko_device_type!r}, which "
                              "this netmiko does not know")
        self.device = device
        self.profile = profile
        self.lock_timeout = lock_timeout
        self.idle_timeout = idle_timeout
        self.command_timeout = float(device.command_timeout or profile.command_timeout)
        self.session_log_dir = session_log_dir
        self.prep_values = dict(prep_values or {})
        self.connects = 0
        self.host_key_problem: str | None = None
        self._lock = threading.Lock()
        self._conn: Any = None
        self._channel: Channel | None = None
        self._last_used = 0.0
        self._class = _connection_class(CLASS_MAPPER[profile.netmiko_device_type], self)

    # -- use ---------------------------------------------------------------------

    def run(self, operation: Callable[[Channel], T], *, idempotent: bool = False) -> T:
        """Run ``operation`` with the device's channel, holding the device lock.

        A read-only (``idempotent``) operation whose reused session turns out to
        have dropped is run once more on a fresh one; nothing else is retried.
        """
        with self._locked():
            reused = self._conn is not None
            try:
                return self._run_once(operation)
            except DeviceUnreachableError as exc:
                if not (idempotent and reused and exc.lost):
                    raise
                LOG.info("device %s: session dropped; reconnecting once", self.device.name)
            return self._run_once(operation)

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def close(self) -> None:
        """Disconnect (waits for a running operation, at most the lock timeout)."""
        if self._lock.acquire(timeout=self.lock_timeout):
            try:
                self._disconnect()
            finally:
                self._lock.release()
        else:
            LOG.warning("device %s: busy at close; its session is left to the reaper",
                        self.device.name)

    def close_if_idle(self, now: float | None = None) -> bool:
        """Disconnect when unused for ``idle_timeout``; never waits for the lock."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            now = time.monotonic() if now is None else now
            if self._conn is not None and now - self._last_used >= self.idle_timeout:
                LOG.debug("device %s: closing idle session", self.device.name)
                self._disconnect()
                return True
            return False
        finally:
            self._lock.release()

    # -- internals ---------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=self.lock_timeout):
            raise DeviceBusyError(
                f"device {self.device.name} is busy: another operation held its session for "
                f"more than {self.lock_timeout:.0f} s", backend="hardware")
        try:
            yield
        finally:
            self._last_used = time.monotonic()
            self._lock.release()

    def _run_once(self, operation: Callable[[Channel], T]) -> T:
        fresh = self._ensure_connected()
        assert self._channel is not None
        try:
            return operation(self._channel)
        except (OSError, EOFError, paramiko.SSHException, NetmikoBaseException) as exc:
            self._disconnect()
            raise DeviceUnreachableError(
                f"device {self.device.name} ({self.device.host}:{self.device.port}): session "
                f"failed during a command: {_reason(exc)}", device=self.device.name,
                lost=not fresh) from exc
        except UnexpectedOutputError:
            self._reset_mode()
            raise

    def _ensure_connected(self) -> bool:
        """Connect when there is no usable session; True when a new one was made."""
        if self._conn is not None:
            if time.monotonic() - self._last_used < self.idle_timeout and self._alive():
                return False
            self._disconnect()
        self._connect()
        return True

    def _alive(self) -> bool:
        remote = getattr(self._conn, "remote_conn", None)
        if remote is None or getattr(remote, "closed", True):
            return False
        transport = remote.get_transport()
        return bool(transport is not None and transport.is_active())

    def _connect(self) -> None:
        device = self.device
        password = ""
        if device.password_env:
            password = os.environ.get(device.password_env, "")
            if not password:
                raise ConfigError(f"devices[{device.name}].password_env: the environment "
                                  f"variable {device.password_env} is not set")
        kwargs: dict[str, Any] = {
            "device_type": self.profile.netmiko_device_type,
            "host": device.host,
            "port": device.port,
            "username": device.username,
            "password": password,
            "secret": password,
            "use_keys": bool(device.key_file),
            "key_file": device.key_file,
            "allow_agent": False,
            "ssh_strict": True,
            "conn_timeout": device.connect_timeout,
            "auth_timeout": device.connect_timeout,
            "banner_timeout": device.connect_timeout,
            "fast_cli": True,
        }
        if self.session_log_dir:
            kwargs["session_log"] = os.path.join(self.session_log_dir, f"{device.name}.log")
            kwargs["session_log_file_mode"] = "append"
        self.host_key_problem = None
        started = time.monotonic()
        try:
            conn = self._class(**kwargs)
        except NetmikoAuthenticationException as exc:
            raise DeviceUnreachableError(
                f"device {device.name} ({device.host}:{device.port}): authentication as "
                f"{device.username} failed", device=device.name) from exc
        except (OSError, EOFError, paramiko.SSHException, NetmikoBaseException,
                ValueError) as exc:
            if self.host_key_problem:
                raise HostKeyError(self.host_key_problem, device=device.name) from exc
            raise DeviceUnreachableError(
                f"device {device.name} ({device.host}:{device.port}): cannot connect: "
                f"{_reason(exc)}", device=device.name) from exc
        self.connects += 1
        self._conn = conn
        self._channel = Channel(self, conn)
        try:
            for template in self.profile.session_prep:
                self._channel.send(self.profile.render_command(template, self.prep_values))
            if self.profile.session_prep:
                conn.set_base_prompt()
        except (OSError, EOFError, paramiko.SSHException, NetmikoBaseException) as exc:
            self._disconnect()
            raise DeviceUnreachableError(
                f"device {device.name}: session preparation failed: {_reason(exc)}",
                device=device.name) from exc
        except UnexpectedOutputError:
            self._disconnect()
            raise
        LOG.debug("device %s: connected in %.0f ms", device.name,
                  (time.monotonic() - started) * 1000)

    def _reset_mode(self) -> None:
        """After a refused command, bring the CLI back to its base mode (profile ``reset``)."""
        if not self.profile.reset or self._channel is None:
            return
        try:
            for command in self.profile.reset:
                self._channel.send(command)
        except Exception as exc:  # noqa: BLE001 - a failed reset only costs the session
            LOG.warning("device %s: could not reset the CLI mode (%s); reconnecting next time",
                        self.device.name, _reason(exc))
            self._disconnect()

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.disconnect()


class SessionPool:
    """Every device's session, plus one daemon thread that closes idle ones."""

    def __init__(self, sessions: Mapping[str, DeviceSession], *, idle_timeout: float) -> None:
        self.sessions = dict(sessions)
        self.idle_timeout = idle_timeout
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        self._guard = threading.Lock()

    def __getitem__(self, device: str) -> DeviceSession:
        return self.sessions[device]

    def run(self, device: str, operation: Callable[[Channel], T], *,
            idempotent: bool = False) -> T:
        self._start_reaper()
        return self.sessions[device].run(operation, idempotent=idempotent)

    def close(self) -> None:
        self._stop.set()
        reaper = self._reaper
        if reaper is not None and reaper is not threading.current_thread():
            reaper.join(timeout=5)
        for session in self.sessions.values():
            session.close()
        self._reaper = None
        self._stop = threading.Event()

    def _start_reaper(self) -> None:
        if self._reaper is not None:
            return
        with self._guard:
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, name="amphora-hw-reaper",
                                                daemon=True)
                self._reaper.start()

    def _reap(self) -> None:
        interval = max(0.5, min(30.0, self.idle_timeout / 2))
        stop = self._stop
        while not stop.wait(interval):
            for session in self.sessions.values():
                with contextlib.suppress(Exception):
                    session.close_if_idle()


def _strip_echo_and_prompt(output: str, command: str, prompt: re.Pattern[str] | None) -> str:
    """Drop a leftover command echo (first line) and prompt (last line).

    netmiko strips them using the base prompt it saw at login; a CLI whose
    prompt changes with its mode (tmsh folders, ACOS partitions) leaves them in.
    """
    lines = output.splitlines()
    if lines and lines[0].strip() and lines[0].rstrip().endswith(command.strip()):
        lines = lines[1:]
    if lines and prompt is not None and prompt.search(lines[-1]):
        lines = lines[:-1]
    return "\n".join(lines)


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason: the exception type and its first line."""
    text = str(exc).strip().splitlines()
    first = next((line.strip() for line in text if line.strip()), "")
    if isinstance(exc, socket.timeout | TimeoutError):
        first = first or "timed out"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
