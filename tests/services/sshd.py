"""A real OpenSSH sshd on a free 127.0.0.1 port, for the hardware driver's Linux appliance.

Everything it uses is its own, in one directory: a host key, a client key and
authorized_keys, a known_hosts for the client, the config and the log.  It
runs as root (the driver creates network namespaces), with ``StrictModes no``
and ``UsePAM no``, in its own session, and is stopped by process group.

A bare shell: root's login shell here is bash, whose ~/.bashrc runs pyenv
(about 0.5 s a login).  sshd's ``ForceCommand`` runs a tiny wrapper instead
(through the login shell with ``SHLVL=1``, which keeps bash from reading
~/.bashrc for ``bash -c``), which starts ``/bin/sh -i`` with a plain prompt
for interactive sessions, sftp-server for the SFTP subsystem, and
``sh -c`` for exec requests.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ._proc import ManagedProcess, free_port, port_open, wait_until

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
PROMPT = "appliance# "

_WRAPPER = f"""#!/bin/sh
# Bare shell for the test appliance (see tests/services/sshd.py).
case "$SSH_ORIGINAL_COMMAND" in
  "") PS1='{PROMPT}'; export PS1; exec /bin/sh -i ;;
  {SFTP_SERVER}) exec {SFTP_SERVER} ;;
  *) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;;
esac
"""


def missing() -> str | None:
    """Why sshd cannot run here, or None."""
    for tool in (SSHD, SFTP_SERVER, shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"):
        if not os.path.exists(tool):
            return f"{tool} is not installed (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "sshd for the Linux appliance tests must run as root"
    return None


def keygen(path: Path, kind: str = "ed25519") -> str:
    """A new key pair at ``path``; returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "amphora-test",
                    "-f", str(path)], check=True, timeout=30)
    return Path(str(path) + ".pub").read_text().strip()


class SshServer:
    """One sshd: ``start()``, ``stop()``, ``kill()``, and paths for the driver's config."""

    def __init__(self, workdir: Path, *, name: str = "sshd", port: int | None = None) -> None:
        self.dir = Path(workdir)
        self.name = name
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.host_key = self.dir / "ssh_host_ed25519_key"
        self.client_key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.config = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.proc: ManagedProcess | None = None

    # -- lifecycle -----------------------------------------------------------------

    def prepare(self) -> SshServer:
        """Keys, authorized_keys, known_hosts, wrapper and config (idempotent)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if not self.host_key.exists():
            keygen(self.host_key)
        if not self.client_key.exists():
            keygen(self.client_key)
        (self.dir / "authorized_keys").write_text(
            Path(str(self.client_key) + ".pub").read_text())
        self.write_known_hosts()
        wrapper = self.dir / "shell.sh"
        wrapper.write_text(_WRAPPER)
        wrapper.chmod(0o755)
        self.config.write_text("\n".join([
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.host_key}",
            f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "MaxStartups 100:30:200",
            "MaxSessions 50",
            "LogLevel INFO",
            f"Subsystem sftp {SFTP_SERVER}",
            "SetEnv SHLVL=1",
            f"ForceCommand {wrapper}",
            "",
        ]))
        return self

    def write_known_hosts(self, host_key_pub: str | None = None) -> None:
        """The client's known_hosts: this server's key (or another one, to fake a change)."""
        pub = host_key_pub or Path(str(self.host_key) + ".pub").read_text().strip()
        kind, blob = pub.split()[:2]
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {kind} {blob}\n")

    def start(self, timeout: float = 15.0) -> SshServer:
        reason = missing()
        if reason:
            raise OSError(reason)
        self.prepare()
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        check = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True,
                               text=True, timeout=30)
        if check.returncode != 0:
            raise OSError(f"sshd -t refused the config: {check.stderr.strip()}")
        self.proc = ManagedProcess(self.name, [SSHD, "-D", "-e", "-f", str(self.config)],
                                   self.log).start()
        try:
            wait_until(lambda: port_open(self.host, self.port), timeout, 0.05,
                       f"{self.name} on port {self.port}")
        except TimeoutError as exc:
            tail = self.proc.log_tail()
            self.stop()
            raise OSError(f"{exc}: {tail}") from exc
        return self

    def stop(self) -> None:
        """Stop the listener and every session it runs (a device going down)."""
        if self.proc is not None:
            self._kill_sessions()
            self.proc.stop(timeout=5)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL the sessions (they run in sessions of their own) and the process group."""
        if self.proc is not None:
            self._kill_sessions()
            self.proc.kill()
            self.proc = None

    def _kill_sessions(self) -> None:
        """sshd's per-connection processes call setsid(), so the process group misses them:
        kill every descendant of our listener, by pid."""
        assert self.proc is not None
        for pid in _descendants(self.proc.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def restart_with_new_host_key(self) -> None:
        """Same port, a different host key (what a man in the middle would show)."""
        self.stop()
        for path in (self.host_key, Path(str(self.host_key) + ".pub")):
            path.unlink(missing_ok=True)
        known = self.known_hosts.read_text()
        self.start()
        self.known_hosts.write_text(known)  # the client still trusts the old key

    # -- what tests read -----------------------------------------------------------

    def logins(self) -> int:
        """How many logins sshd accepted so far (from its own log)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        return len(re.findall(r"Accepted publickey for ", text))

    def device(self, name: str, *, capacity: int = 8, **extra: object) -> dict[str, object]:
        """A ``devices`` entry for the hardware driver pointing at this sshd."""
        entry: dict[str, object] = {
            "name": name, "host": self.host, "port": self.port, "username": "root",
            "key_file": str(self.client_key), "profile": "linux-haproxy",
            "capacity": capacity, "known_hosts": str(self.known_hosts),
            "connect_timeout": 5, "command_timeout": 15,
        }
        entry.update(extra)
        return entry


def _descendants(root: int) -> list[int]:
    """Every live descendant of ``root`` (from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_for_logins(server: SshServer, count: int, timeout: float = 5.0) -> None:
    """sshd writes its log asynchronously: wait until it shows ``count`` logins."""
    deadline = time.monotonic() + timeout
    while server.logins() < count and time.monotonic() < deadline:
        time.sleep(0.05)
