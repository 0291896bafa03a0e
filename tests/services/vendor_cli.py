"""An SSH server emulating the F5 tmsh, A10 ACOS and Citrix ADC (NetScaler) CLIs.

Real devices cannot run here, so this asyncssh server speaks their
interactive CLIs over a real SSH connection, close enough for netmiko's own
device classes (``f5_tmsh``, ``a10``, ``netscaler``) to log in, prepare the
session and run commands: a pty, echo of every typed character, the
family's prompts and modes, paging commands, and the family's error texts.

Each ``EmulatedDevice`` keeps state (partitions and their virtual servers),
so build / status / delete are checked against what the "device" holds.
Fault knobs: ``garbage`` (answer the next N commands with garbage),
``drop_on`` (close the connection when a command matches), ``fail_on``
(answer a matching command with the family's error text).  Counters:
``connections`` and ``commands`` (what the device was sent).

The server runs on a free 127.0.0.1 port in a background thread with its own
event loop; ``stop()`` closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from ._proc import free_port

FAMILIES = ("f5-bigip", "a10-acos", "citrix-adc")
GARBAGE = "\x1b[7m@@@ ?? kernel: soft lockup - CPU#0 stuck for 23s! [tmm:4242] ##%%&&\x1b[0m"


@dataclass
class VirtualServer:
    address: str
    port: str = "80"
    description: str = ""
    enabled: bool = True


@dataclass
class Partition:
    name: str
    pid: int = 0
    description: str = ""
    vs: VirtualServer | None = None


@dataclass
class EmulatedDevice:
    """One emulated device: its family, state, fault knobs and counters."""

    family: str
    hostname: str = "lb"
    password: str | None = None
    partitions: dict[str, Partition] = field(default_factory=dict)
    connections: int = 0
    commands: list[str] = field(default_factory=list)
    garbage: int = 0
    drop_on: str | None = None
    fail_on: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_cli(self) -> Cli:
        return {"f5-bigip": F5Cli, "a10-acos": A10Cli, "citrix-adc": NetscalerCli}[
            self.family](self)


class Drop(Exception):
    """Close the connection now (fault knob)."""


class Cli:
    """One interactive session's view of a device: modes, prompt, command handling."""

    banner = ""

    def __init__(self, device: EmulatedDevice) -> None:
        self.device = device
        self.closed = False

    def prompt(self) -> str:
        raise NotImplementedError

    def handle(self, line: str) -> str:
        device = self.device
        line = line.strip()
        if line:
            device.commands.append(line)
            if device.drop_on and re.search(device.drop_on, line):
                raise Drop(line)
            if device.garbage > 0:
                device.garbage -= 1
                return GARBAGE
            if device.fail_on and re.search(device.fail_on, line):
                return self.error(f"injected failure for {line.split()[0]}")
        with device.lock:
            return self.run(line)

    def run(self, line: str) -> str:
        raise NotImplementedError

    def error(self, text: str) -> str:
        raise NotImplementedError


# -- F5 tmsh ------------------------------------------------------------------------


class F5Cli(Cli):
    """bash first (``tmsh`` enters tmsh), tmsh prompt ``...(/Common)(tmos)#``."""

    def __init__(self, device: EmulatedDevice) -> None:
        super().__init__(device)
        self.tmsh = False
        self.folder = "/Common"

    def prompt(self) -> str:
        if not self.tmsh:
            return f"[admin@{self.device.hostname}:Active:Standalone] ~ # "
        return (f"admin@({self.device.hostname})(cfg-sync Standalone)(Active)"
                f"({self.folder})(tmos)# ")

    def error(self, text: str) -> str:
        return f"01070734:3: Configuration error: {text}"

    def run(self, line: str) -> str:
        if not self.tmsh:
            if line == "tmsh":
                self.tmsh = True
                return ""
            if line in ("exit", "logout"):
                self.closed = True
                return "logout"
            return "" if not line else f"-bash: {line.split()[0]}: command not found"
        try:
            words = shlex.split(line)
        except ValueError:
            return 'Syntax Error: unbalanced quotes'
        if not words:
            return ""
        if words[0] == "quit":
            self.tmsh = False
            return ""
        if line in ('run /util bash -c "stty cols 255"',
                    "modify cli preference pager disabled display-threshold 0"):
            return ""
        if words[0] == "cd" and len(words) == 2 and words[1] in ("/", "/Common"):
            self.folder = words[1]
            return ""
        parts = self.device.partitions
        match words:
            case ["create", "auth", "partition", name, "description", desc]:
                if name in parts:
                    return f"01020066:3: The requested partition ({name}) already exists."
                parts[name] = Partition(name, description=desc)
                return ""
            case ["create", "ltm", "virtual", path, "destination", dest, "ip-protocol", "tcp",
                  "description", desc]:
                part = self._partition_of(path)
                if part is None:
                    return f"01020036:3: The requested folder ({path.rsplit('/', 1)[0]}) " \
                           "was not found."
                address, _, port = dest.rpartition(":")
                part.vs = VirtualServer(address, port, desc)
                return ""
            case ["list", "ltm", "virtual", "recursive", "one-line"]:
                return "\n".join(self._one_line(p) for p in parts.values() if p.vs)
            case ["modify", "ltm", "virtual", path, ("enabled" | "disabled") as state]:
                part = self._partition_of(path)
                if part is None or part.vs is None:
                    return f"01020036:3: The requested Virtual Server ({path}) was not found."
                part.vs.enabled = state == "enabled"
                return ""
            case ["delete", "ltm", "virtual", path]:
                part = self._partition_of(path)
                if part is None or part.vs is None:
                    return f"01020036:3: The requested Virtual Server ({path}) was not found."
                part.vs = None
                return ""
            case ["delete", "auth", "partition", name]:
                if name not in parts:
                    return f"01020036:3: The requested partition ({name}) was not found."
                if parts[name].vs is not None:
                    return f"01070829:3: Partition {name} cannot be deleted: it holds objects."
                del parts[name]
                return ""
        return f'Syntax Error: "{words[0]}" unknown or incomplete command'

    def _partition_of(self, path: str) -> Partition | None:
        found = re.fullmatch(r"/([A-Za-z0-9_-]+)/amphora", path)
        return self.device.partitions.get(found.group(1)) if found else None

    @staticmethod
    def _one_line(part: Partition) -> str:
        vs = part.vs
        assert vs is not None
        state = "" if vs.enabled else " disabled"
        return (f'ltm virtual {part.name}/amphora {{ description "{vs.description}" '
                f"destination {part.name}/{vs.address}:{vs.port}{state} ip-protocol tcp "
                "mask 255.255.255.255 }")


# -- A10 ACOS -------------------------------------------------------------------------


class A10Cli(Cli):
    """``vThunder>`` -> enable (Password:) -> ``#`` -> configure -> ``(config)#``."""

    def __init__(self, device: EmulatedDevice) -> None:
        super().__init__(device)
        self.level = "user"          # user | enable-password | exec | config | vserver
        self.partition = "shared"

    def prompt(self) -> str:
        if self.level == "enable-password":
            return "Password:"
        part = "" if self.partition == "shared" else f"[{self.partition}]"
        suffix = {"user": ">", "exec": "#", "config": "(config)#",
                  "vserver": "(config-slb vserver)#"}[self.level]
        return f"{self.device.hostname}{part}{suffix}"

    def error(self, text: str) -> str:
        return f"Error: {text}"

    def run(self, line: str) -> str:
        if self.level == "enable-password":
            self.level = "exec"
            return ""
        if not line:
            return ""
        words = line.split()
        parts = self.device.partitions
        if self.level == "user":
            if words == ["enable"]:
                self.level = "enable-password"
                return ""
            if words == ["exit"]:
                self.closed = True
                return ""
            return "% Unrecognized command."
        if words == ["terminal", "length", "0"]:
            return ""
        if words == ["show", "running-config", "partition-config", "all"]:
            return self._running_config()
        if words[:1] == ["active-partition"] and len(words) == 2:
            if words[1] != "shared" and words[1] not in parts:
                return f"Error: partition {words[1]} does not exist"
            self.partition = words[1]
            return ""
        if words == ["end"]:
            self.level = "exec"
            return ""
        if words == ["exit"]:
            if self.level == "vserver":
                self.level = "config"
            elif self.level == "config":
                self.level = "exec"
            else:
                self.closed = True
            return ""
        if self.level == "exec":
            if words[0] in ("configure",) and words[1:] in ([], ["terminal"]):
                self.level = "config"
                return ""
            return "% Unrecognized command."
        if self.level == "vserver":
            part = parts[self.partition]
            assert part.vs is not None
            if words[0] == "description" and len(words) == 2:
                part.vs.description = words[1].strip('"')
                return ""
            if words in (["disable"], ["enable"]):
                part.vs.enabled = words[0] == "enable"
                return ""
            return "% Unrecognized command."
        match words:
            case ["partition", name, "id", pid, "application-type", "adc"]:
                if len(name) > 14:
                    return "Error: partition name must be 1 to 14 characters"
                if name in parts or any(p.pid == int(pid) for p in parts.values()):
                    return f"Error: partition {name} or id {pid} already exists"
                parts[name] = Partition(name, pid=int(pid))
                return ""
            case ["no", "partition", name]:
                if name not in parts:
                    return f"Error: partition {name} does not exist"
                del parts[name]
                return ""
            case ["slb", "virtual-server", "amphora", *rest] if len(rest) <= 1:
                if self.partition == "shared":
                    return "Error: amphora objects belong in an L3V partition"
                part = parts[self.partition]
                if rest:
                    part.vs = VirtualServer(rest[0])
                elif part.vs is None:
                    return "Error: virtual server amphora does not exist"
                self.level = "vserver"
                return ""
        return "% Unrecognized command."

    def _running_config(self) -> str:
        lines = ["!Current configuration: 412 bytes", "!Configuration for partition: shared",
                 "!", "end"]
        for part in self.device.partitions.values():
            lines += [f"!Configuration for partition: {part.name}", "!",
                      f"active-partition {part.name}", "!"]
            if part.vs is not None:
                lines += [f"slb virtual-server amphora {part.vs.address}"]
                if part.vs.description:
                    lines += [f'  description "{part.vs.description}"']
                if not part.vs.enabled:
                    lines += ["  disable"]
                lines += ["!"]
            lines += ["end"]
        return "\n".join(lines)


# -- Citrix ADC (NetScaler) ----------------------------------------------------------


class NetscalerCli(Cli):
    """Prompt ``> `` (``<partition>> `` inside a partition); answers end with `` Done``."""

    def __init__(self, device: EmulatedDevice) -> None:
        super().__init__(device)
        self.partition = "default"

    def prompt(self) -> str:
        return "> " if self.partition == "default" else f"{self.partition}> "

    def error(self, text: str) -> str:
        return f"ERROR: {text}"

    def run(self, line: str) -> str:
        if not line:
            return ""
        try:
            words = shlex.split(line)
        except ValueError:
            return "ERROR: unbalanced quotes"
        parts = self.device.partitions
        done = " Done"
        if words == ["exit"]:
            self.closed = True
            return ""
        if words == ["set", "cli", "mode", "-page", "OFF"]:
            return done
        match words:
            case ["add", "ns", "partition", name]:
                if self.partition != "default":
                    return "ERROR: Operation not permitted in a non-default partition"
                if name in parts:
                    return "ERROR: Resource already exists"
                parts[name] = Partition(name)
                return done
            case ["switch", "ns", "partition", name]:
                if name != "default" and name not in parts:
                    return f"ERROR: No such resource [partitionName, {name}]"
                self.partition = name
                return done
            case ["rm", "ns", "partition", name]:
                if name not in parts:
                    return f"ERROR: No such resource [partitionName, {name}]"
                del parts[name]
                return done
            case ["add", "lb", "vserver", "amphora", "HTTP", address, port, "-comment", desc]:
                if self.partition == "default":
                    return "ERROR: amphora objects belong in an admin partition"
                parts[self.partition].vs = VirtualServer(address, port, desc)
                return done
            case [("enable" | "disable") as verb, "lb", "vserver", "amphora"]:
                part = parts.get(self.partition)
                if part is None or part.vs is None:
                    return "ERROR: No such resource [name, amphora]"
                part.vs.enabled = verb == "enable"
                return done
            case ["show", "ns", "runningConfig"]:
                return self._running_config() + "\n" + done
        return f'ERROR: No such command [{words[0]}]'

    def _running_config(self) -> str:
        lines = ["#NS13.1 Build 37.38", "# Last modified by `save config`",
                 "set ns config -IPAddress 192.0.2.10 -netmask 255.255.255.0"]
        lines += [f"add ns partition {p}" for p in self.device.partitions]
        for part in self.device.partitions.values():
            lines += [f"#Partition {part.name}"]
            if part.vs is not None:
                vs = part.vs
                lines += [f'add lb vserver amphora HTTP {vs.address} {vs.port} '
                          f'-comment "{vs.description}"']
                if not vs.enabled:
                    lines += ["disable lb vserver amphora"]
        return "\n".join(lines)


# -- the SSH server -------------------------------------------------------------------


class _Session(asyncssh.SSHServerSession):  # type: ignore[misc]
    """A pty shell session: echo what is typed, answer each line, show the prompt."""

    def __init__(self, device: EmulatedDevice) -> None:
        self.device = device
        self.cli = device.new_cli()
        self.chan: Any = None
        self.buffer = ""
        self.last = ""

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: Any, term_modes: Any) -> bool:
        return True

    def shell_requested(self) -> bool:
        return True

    def session_started(self) -> None:
        self.chan.write(f"Last login: Mon Nov 30 09:00:00 2026 from 127.0.0.1\r\n"
                        f"{self.cli.prompt()}")

    def data_received(self, data: str, datatype: Any) -> None:
        for ch in data:
            if ch in "\r\n":
                if ch == "\n" and self.last == "\r":
                    self.last = ch
                    continue
                self.last = ch
                line, self.buffer = self.buffer, ""
                self.chan.write("\r\n")
                try:
                    out = self.cli.handle(line)
                except Drop:
                    self.chan.get_extra_info("connection").abort()
                    return
                if self.cli.closed:
                    self.chan.exit(0)
                    return
                text = out.replace("\n", "\r\n")
                self.chan.write((text + "\r\n" if text else "") + self.cli.prompt())
            else:
                self.last = ch
                self.buffer += ch
                self.chan.write(ch)

    def eof_received(self) -> bool:
        return False


class _Server(asyncssh.SSHServer):  # type: ignore[misc]
    def __init__(self, device: EmulatedDevice, authorized: asyncssh.SSHAuthorizedKeys) -> None:
        self.device = device
        self.authorized = authorized

    def connection_made(self, conn: Any) -> None:
        self.device.connections += 1

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return self.device.password is not None

    def validate_password(self, username: str, password: str) -> bool:
        return self.device.password is not None and password == self.device.password

    def session_requested(self) -> _Session:
        return _Session(self.device)


class VendorCliServer:
    """One emulated device on its own port (``start()`` / ``stop()``)."""

    def __init__(self, workdir: Path, family: str, *, client_public_key: str,
                 hostname: str | None = None, password: str | None = None) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}")
        self.dir = Path(workdir)
        self.family = family
        self.device = EmulatedDevice(family, hostname=hostname or {
            "f5-bigip": "bigip1", "a10-acos": "vThunder", "citrix-adc": "ns"}[family],
            password=password)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.client_public_key = client_public_key
        self.known_hosts = self.dir / f"{family}.known_hosts"
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None

    def start(self) -> VendorCliServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        pub = self.host_key.export_public_key("openssh").decode().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {pub[0]} {pub[1]}\n")
        authorized = asyncssh.import_authorized_keys(self.client_public_key + "\n")
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            self._server = await asyncssh.create_server(
                lambda: _Server(self.device, authorized), self.host, self.port,
                server_host_keys=[self.host_key], authorized_client_keys=authorized,
                reuse_address=True, login_timeout=15)

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"emulator-{self.family}",
                                        daemon=True)
        self._thread.start()
        ready.wait(15)
        if failure:
            raise OSError(f"emulator for {self.family} failed to start: {failure[0]}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 5)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None

    def call(self, fn: Callable[[EmulatedDevice], Any]) -> Any:
        """Read or change the device state consistently with the sessions."""
        with self.device.lock:
            return fn(self.device)

    def device_entry(self, name: str, *, key_file: str, capacity: int = 8,
                     **extra: object) -> dict[str, object]:
        """A ``devices`` entry for the hardware driver pointing at this emulator."""
        entry: dict[str, object] = {
            "name": name, "host": self.host, "port": self.port, "username": "admin",
            "key_file": key_file, "profile": self.family, "capacity": capacity,
            "known_hosts": str(self.known_hosts), "slot_network": "192.0.2.0/24",
            "connect_timeout": 5, "command_timeout": 10,
        }
        entry.update(extra)
        return entry
