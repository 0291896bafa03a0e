"""Hardware profiles: one TOML data file per device family, loaded and checked here.

A profile says how to drive one family of devices over an interactive SSH CLI
(netmiko): the netmiko device type, the session preparation commands, the
command templates of every operation, how to read the list output, which
output means an error, and the family's naming limits.  Adding a family is a
new data file (shipped by a vendor package through the
``amphora_compute_hardware_profiles`` hook), not new code.

Safety is decided here, when a profile is loaded, not when a command is sent:

* unknown keys and unknown ``{placeholders}`` reject the whole file;
* every value that can reach a command has a strict pattern, and a pattern
  that would accept a shell or CLI metacharacter (``a; reboot``, ``$(id)``,
  quotes, spaces, newlines...) rejects the file;
* values are checked against their pattern and quoted before a command is
  rendered, and a rendered command longer than the family's limit (netmiko's
  terminal is 511 columns wide) is refused.

This module imports no client library.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from amphora_compute.enums import AmphoraStatus
from amphora_compute.errors import ConfigError, InvalidRequestError

SCHEMA_VERSION = 1

#: Characters no value may carry: shell and CLI metacharacters, quotes, whitespace.
DANGEROUS = ";|&$`'\"\\(){}<>*?#!~ \t\r\n\x00"

#: Strings every value pattern must refuse (each dangerous character alone, between
#: letters and between digits, plus a few classic attacks).
INJECTION_PROBES: tuple[str, ...] = (
    "a;reboot", "a; reboot", "$(id)", "`id`", "",
    *DANGEROUS, *(f"a{c}a" for c in DANGEROUS), *(f"1{c}1" for c in DANGEROUS),
    *(f"1.1.1.1:1{c}1" for c in DANGEROUS),
)

#: Values made by the driver itself (still checked against these patterns).
BUILTIN_PATTERNS: Mapping[str, str] = {
    "slot": r"[a-z][a-z0-9]{2,31}",
    "index": r"[0-9]{1,5}",
    "address": r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}",
    "prefixlen": r"[0-9]{1,2}",
    "name": r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "key": r"-|[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,254}",
    "meta": r"amp,[A-Za-z0-9-]{1,63},[A-Za-z0-9._:@/+-]{1,255},[0-9]{1,5}",
}

#: What the driver stores on a device for each slot (its name is not reversible
#: from a 14-character partition name, so the mapping is kept on the device).
META_RE = re.compile(r"amp,(?P<name>[A-Za-z0-9-]{1,63}),(?P<key>[A-Za-z0-9._:@/+-]{1,255}),"
                     r"(?P<index>[0-9]{1,5})")

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_][a-z0-9_]*)\}|\{|\}")
_SAFE_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_KNOWN_NETMIKO_TYPE = re.compile(r"[a-z0-9_]{2,40}")
_OPERATIONS = ("build", "list", "suspend", "resume", "delete")

_TOP_KEYS = {
    "schema_version", "family", "description", "netmiko_device_type", "prompt",
    "session_prep", "reset", "logout", "exit_status", "quoting", "config_files",
    "config_files_dir", "command_timeout", "max_command_length", "error_patterns",
    "not_found_patterns", "naming", "values", "device_params", "operations", "status_map",
    "files",
}


class ProfileError(ConfigError):
    """A hardware profile file is invalid; the message names the file and the key."""


def encode_meta(name: str, key: str | None, index: int) -> str:
    """The slot record kept on the device: amphora name, idempotency key, slot index."""
    return f"amp,{name},{key or '-'},{index}"


def decode_meta(text: str) -> tuple[str, str | None, int] | None:
    """Inverse of ``encode_meta``; None when ``text`` is not a record of ours."""
    found = META_RE.fullmatch(text.strip().strip('"'))
    if found is None:
        return None
    key = found["key"]
    return found["name"], (None if key == "-" else key), int(found["index"])


@dataclass(frozen=True, slots=True)
class ValueSpec:
    """One value a template may use: where it comes from and what it may look like."""

    name: str
    pattern: re.Pattern[str]
    source: str = "builtin"          # builtin | metadata | device
    key: str = ""                    # metadata key or device param name
    default: str | None = None
    required: bool = False
    multiple: bool = False           # comma-separated list, each item checked
    item: str = ""                   # template of one item ({n}, {item}) when multiple

    def check(self, value: str, *, field_name: str) -> None:
        """Raise InvalidRequestError naming ``field_name`` unless ``value`` fits."""
        items = [v.strip() for v in value.split(",")] if self.multiple else [value]
        for item in items:
            if not isinstance(item, str) or not self.pattern.fullmatch(item):
                raise InvalidRequestError(
                    f"{item!r} is not accepted by this device family "
                    f"(must match {self.pattern.pattern})", field=field_name)


@dataclass(frozen=True, slots=True)
class Step:
    """One build step: a command template, or an upload (over SFTP) of a named file."""

    command: str | None = None
    upload: str | None = None


@dataclass(frozen=True, slots=True)
class FileSpec:
    """A file the driver writes to the device over SFTP (Linux appliances)."""

    name: str
    path: str
    template: str
    mode: int = 0o600


@dataclass(frozen=True, slots=True)
class ListSpec:
    """How to read the one command that reports every slot on a device."""

    command: str
    record: re.Pattern[str]
    split: re.Pattern[str] | None = None
    skip: tuple[re.Pattern[str], ...] = ()
    state_default: str | None = None


@dataclass(frozen=True, slots=True)
class Naming:
    """How slot names are made: a prefix plus random letters, at most ``length`` long."""

    prefix: str
    length: int
    alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789"

    @property
    def pattern(self) -> re.Pattern[str]:
        rest = self.length - len(self.prefix)
        return re.compile(re.escape(self.prefix) + "[" + re.escape(self.alphabet) + "]{"
                          + str(rest) + "}")


@dataclass(frozen=True, slots=True)
class Profile:
    """One device family, validated.  Immutable; shared by every device of the family."""

    family: str
    description: str
    netmiko_device_type: str
    naming: Naming
    list: ListSpec
    build: tuple[Step, ...]
    delete: tuple[str, ...]
    suspend: tuple[str, ...]
    resume: tuple[str, ...]
    status_map: Mapping[str, AmphoraStatus]
    values: Mapping[str, ValueSpec]
    device_params: Mapping[str, ValueSpec]
    files: Mapping[str, FileSpec] = field(default_factory=dict)
    prompt: re.Pattern[str] | None = None
    session_prep: tuple[str, ...] = ()
    reset: tuple[str, ...] = ()
    logout: tuple[str, ...] = ()
    exit_status: bool = False
    quoting: str = "posix"
    config_files: str = "refuse"
    config_files_dir: str | None = None
    command_timeout: float = 30.0
    max_command_length: int = 500
    error_patterns: tuple[re.Pattern[str], ...] = ()
    not_found_patterns: tuple[re.Pattern[str], ...] = ()
    source: str = ""

    # -- rendering ----------------------------------------------------------

    def quote(self, value: str) -> str:
        """Quote a (pattern-checked) value for the family's CLI.

        Values made only of safe characters go bare (``/{slot}/vs`` must stay a
        path); anything else is quoted, so even a too-lax pattern cannot open a
        shell.
        """
        if _SAFE_BARE.fullmatch(value):
            return value
        if self.quoting == "posix":
            return "'" + value.replace("'", "'\"'\"'") + "'"
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def render_command(self, template: str, values: Mapping[str, str]) -> str:
        """Fill a command template with checked, quoted values; refuse long results."""
        text = _render(template, {k: self.quote(v) for k, v in values.items()})
        if len(text) > self.max_command_length or "\n" in text or "\r" in text:
            raise InvalidRequestError(
                f"a {self.family} command would be {len(text)} characters long (the limit "
                f"is {self.max_command_length}); use shorter names or keys", field="name")
        return text

    def render_file(self, spec: FileSpec, values: Mapping[str, str]) -> tuple[str, bytes]:
        """(remote path, content) of a file; values are pattern-checked, not quoted."""
        return _render(spec.path, values), _render(spec.template, values).encode()

    def status_of(self, raw: str | None) -> AmphoraStatus:
        if raw is None:
            return AmphoraStatus.UNKNOWN
        return self.status_map.get(raw, AmphoraStatus.UNKNOWN)

    def values_for_request(self, metadata: Mapping[str, str]) -> dict[str, str]:
        """The request-controlled values (from metadata), checked, defaults filled in."""
        out: dict[str, str] = {}
        for spec in self.values.values():
            if spec.source != "metadata":
                continue
            raw = metadata.get(spec.key)
            if raw is None:
                if spec.required:
                    raise InvalidRequestError(f"the {self.family} family needs metadata "
                                              f"{spec.key!r}", field=f"metadata.{spec.key}")
                raw = spec.default or ""
                if raw == "":
                    out[spec.name] = ""
                    continue
            if not isinstance(raw, str):
                raise InvalidRequestError("must be a string", field=f"metadata.{spec.key}")
            spec.check(raw, field_name=f"metadata.{spec.key}")
            out[spec.name] = _expand_multiple(spec, raw)
        return out

    def values_for_device(self, params: Mapping[str, Any], device: str) -> dict[str, str]:
        """The operator's per-device parameters, checked (ConfigError naming the key)."""
        unknown = set(params) - set(self.device_params)
        if unknown:
            raise ConfigError(f"devices[{device}].params: unknown keys {sorted(unknown)} for "
                              f"the {self.family} family (known: {sorted(self.device_params)})")
        out: dict[str, str] = {}
        for name, spec in self.device_params.items():
            raw = params.get(name, spec.default)
            if raw is None:
                if spec.required:
                    raise ConfigError(f"devices[{device}].params.{name} is required by the "
                                      f"{self.family} family")
                continue
            raw = str(raw)
            if not spec.pattern.fullmatch(raw):
                raise ConfigError(f"devices[{device}].params.{name}={raw!r} must match "
                                  f"{spec.pattern.pattern}")
            out[name] = raw
        return out

    def check_builtin(self, values: Mapping[str, str]) -> None:
        """The driver's own values go through the same strict patterns."""
        for name, value in values.items():
            spec = self.values.get(name)
            if spec is not None and spec.source == "builtin":
                spec.check(value, field_name=name)


# -- loading -------------------------------------------------------------------


def load_profile(source: Traversable | Path | str) -> Profile:
    """Read and validate one profile file."""
    path = Path(source) if isinstance(source, str) else source
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{where}: cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {exc}") from exc
    return parse_profile(data, where=where)


def load_profiles(sources: Iterable[Traversable | Path | str]) -> dict[str, Profile]:
    """family -> Profile; two files claiming one family is an error naming both."""
    out: dict[str, Profile] = {}
    for source in sources:
        profile = load_profile(source)
        other = out.get(profile.family)
        if other is not None:
            raise ProfileError(f"hardware family {profile.family!r} is defined twice: in "
                               f"{other.source} and in {profile.source}")
        out[profile.family] = profile
    return out


def parse_profile(data: Mapping[str, Any], *, where: str = "<profile>") -> Profile:
    """Validate a decoded profile (see the module docstring for the rules)."""
    r = _Reader(data, where)
    r.only(_TOP_KEYS, "")
    if r.get("schema_version", int) != SCHEMA_VERSION:
        raise ProfileError(f"{where}: schema_version must be {SCHEMA_VERSION}")
    family = r.get("family", str)
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,39}", family):
        raise ProfileError(f"{where}: family {family!r} must be lowercase letters, digits, '-'")
    device_type = r.get("netmiko_device_type", str)
    if not _KNOWN_NETMIKO_TYPE.fullmatch(device_type):
        raise ProfileError(f"{where}: netmiko_device_type {device_type!r} is not a name")
    naming = _naming(r.table("naming"), where)
    values = _values(r.table("values", {}), where, naming)
    device_params = _device_params(r.table("device_params", {}), where)
    clash = set(values) & set(device_params)
    if clash:
        raise ProfileError(f"{where}: {sorted(clash)} are both values and device_params")
    known = set(values) | set(device_params)
    files = _files(r.table("files", {}), where, known)
    ops = r.table("operations")
    _Reader(ops, f"{where}: operations").only(set(_OPERATIONS), "")
    for op in _OPERATIONS:
        if op not in ops:
            raise ProfileError(f"{where}: operations.{op} is missing")
    build = _build_steps(ops["build"], where, known, files)
    list_spec = _list_spec(ops["list"], where, known)
    simple = {op: _commands(ops[op], f"{where}: operations.{op}", known)
              for op in ("suspend", "resume", "delete")}
    status_map = _status_map(r.table("status_map"), where)
    quoting = r.get("quoting", str, "posix")
    if quoting not in ("posix", "double"):
        raise ProfileError(f"{where}: quoting must be 'posix' or 'double'")
    config_files = r.get("config_files", str, "refuse")
    if config_files not in ("sftp", "ignore", "refuse"):
        raise ProfileError(f"{where}: config_files must be 'sftp', 'ignore' or 'refuse'")
    files_dir = r.get("config_files_dir", str, None)
    if config_files == "sftp":
        if not files_dir:
            raise ProfileError(f"{where}: config_files = 'sftp' needs config_files_dir")
        _check_template(files_dir, f"{where}: config_files_dir", known)
    prompt = r.get("prompt", str, None)
    return Profile(
        family=family,
        description=r.get("description", str, ""),
        netmiko_device_type=device_type,
        naming=naming,
        list=list_spec,
        build=build,
        delete=simple["delete"],
        suspend=simple["suspend"],
        resume=simple["resume"],
        status_map=status_map,
        values=values,
        device_params=device_params,
        files=files,
        prompt=_regex(prompt, f"{where}: prompt") if prompt else None,
        session_prep=_commands(r.get("session_prep", list, []), f"{where}: session_prep",
                               set(device_params)),
        reset=_commands(r.get("reset", list, []), f"{where}: reset", set()),
        logout=_commands(r.get("logout", list, []), f"{where}: logout", set()),
        exit_status=r.get("exit_status", bool, False),
        quoting=quoting,
        config_files=config_files,
        config_files_dir=files_dir,
        command_timeout=float(r.get("command_timeout", (int, float), 30)),
        max_command_length=r.get("max_command_length", int, 500),
        error_patterns=tuple(_regex(p, f"{where}: error_patterns", re.M)
                             for p in r.get("error_patterns", list, [])),
        not_found_patterns=tuple(_regex(p, f"{where}: not_found_patterns", re.M)
                                 for p in r.get("not_found_patterns", list, [])),
        source=where,
    )


class _Reader:
    """Typed access to one TOML table, with errors naming file and key."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        if not isinstance(data, Mapping):
            raise ProfileError(f"{where}: must be a table")
        self.data = data
        self.where = where

    def only(self, allowed: set[str], prefix: str) -> None:
        unknown = set(self.data) - allowed
        if unknown:
            raise ProfileError(f"{self.where}: unknown keys {sorted(unknown)}"
                               + (f" in {prefix}" if prefix else ""))

    _MISSING: Any = object()

    def get(self, key: str, kind: Any, default: Any = _MISSING) -> Any:
        if key not in self.data:
            if default is self._MISSING:
                raise ProfileError(f"{self.where}: {key} is required")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ProfileError(f"{self.where}: {key} has the wrong type")
        return value

    def table(self, key: str, default: Any = _MISSING) -> Mapping[str, Any]:
        value = self.get(key, dict, default)
        return value  # type: ignore[no-any-return]


def _regex(pattern: str, where: str, flags: int = 0) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ProfileError(f"{where}: {pattern!r} is not a string")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ProfileError(f"{where}: bad regular expression {pattern!r}: {exc}") from exc


def _strict(pattern: str, where: str) -> re.Pattern[str]:
    """A value pattern; refused when it would let any metacharacter through."""
    compiled = _regex(pattern, where)
    for probe in INJECTION_PROBES:
        if compiled.fullmatch(probe):
            raise ProfileError(f"{where}: pattern {pattern!r} accepts {probe!r}; value "
                               "patterns must refuse spaces, quotes and shell metacharacters")
    return compiled


def _naming(table: Mapping[str, Any], where: str) -> Naming:
    r = _Reader(table, f"{where}: naming")
    r.only({"prefix", "length", "alphabet"}, "")
    naming = Naming(prefix=r.get("prefix", str), length=r.get("length", int),
                    alphabet=r.get("alphabet", str, "abcdefghijklmnopqrstuvwxyz0123456789"))
    if not re.fullmatch(r"[a-z][a-z0-9]{0,7}", naming.prefix):
        raise ProfileError(f"{where}: naming.prefix must be 1-8 lowercase letters/digits")
    if not re.fullmatch(r"[a-z0-9]{8,}", naming.alphabet) or \
            len(set(naming.alphabet)) != len(naming.alphabet):
        raise ProfileError(f"{where}: naming.alphabet must be 8+ distinct [a-z0-9]")
    if not 8 <= naming.length <= 32 or naming.length - len(naming.prefix) < 6:
        raise ProfileError(f"{where}: naming.length must be 8..32 and leave 6 random chars")
    return naming


def _values(table: Mapping[str, Any], where: str, naming: Naming) -> dict[str, ValueSpec]:
    out: dict[str, ValueSpec] = {}
    for name, pattern in BUILTIN_PATTERNS.items():
        if name == "slot":
            pattern = naming.pattern.pattern
        out[name] = ValueSpec(name=name, pattern=_strict(pattern, f"{where}: builtin {name}"))
    for name, spec in table.items():
        at = f"{where}: values.{name}"
        if name in out:
            raise ProfileError(f"{at}: {name!r} is a built-in value")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ProfileError(f"{at}: bad value name")
        r = _Reader(spec, at)
        r.only({"source", "key", "pattern", "default", "required", "multiple", "item"}, "")
        if r.get("source", str) != "metadata":
            raise ProfileError(f"{at}: source must be 'metadata' (device values go in "
                               "device_params)")
        key = r.get("key", str)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", key):
            raise ProfileError(f"{at}: bad metadata key {key!r}")
        compiled = _strict(r.get("pattern", str), at)
        multiple = r.get("multiple", bool, False)
        item = r.get("item", str, "")
        if multiple:
            if not item:
                raise ProfileError(f"{at}: multiple = true needs an item template")
            _check_template(item, f"{at}.item", {"n", "item"})
        default = r.get("default", str, None)
        value = ValueSpec(name=name, pattern=compiled, source="metadata", key=key,
                          default=default, required=r.get("required", bool, False),
                          multiple=multiple, item=item)
        if default:
            try:
                value.check(default, field_name=name)
            except InvalidRequestError as exc:
                raise ProfileError(f"{at}: default does not match its pattern") from exc
        out[name] = value
    return out


def _device_params(table: Mapping[str, Any], where: str) -> dict[str, ValueSpec]:
    out: dict[str, ValueSpec] = {}
    for name, spec in table.items():
        at = f"{where}: device_params.{name}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or name in BUILTIN_PATTERNS:
            raise ProfileError(f"{at}: bad or reserved parameter name")
        r = _Reader(spec, at)
        r.only({"pattern", "default", "required"}, "")
        pattern = _strict(r.get("pattern", str), at)
        default = r.get("default", str, None)
        if default is not None and not pattern.fullmatch(default):
            raise ProfileError(f"{at}: default does not match its pattern")
        out[name] = ValueSpec(name=name, pattern=pattern, source="device", key=name,
                              default=default, required=r.get("required", bool, False))
    return out


def _files(table: Mapping[str, Any], where: str, known: set[str]) -> dict[str, FileSpec]:
    out: dict[str, FileSpec] = {}
    for name, spec in table.items():
        at = f"{where}: files.{name}"
        r = _Reader(spec, at)
        r.only({"path", "template", "mode"}, "")
        path = r.get("path", str)
        template = r.get("template", str)
        _check_template(path, f"{at}.path", known)
        _check_template(template, f"{at}.template", known)
        mode = int(r.get("mode", str, "0600"), 8)
        out[name] = FileSpec(name=name, path=path, template=template, mode=mode)
    return out


def _build_steps(table: Any, where: str, known: set[str],
                 files: Mapping[str, FileSpec]) -> tuple[Step, ...]:
    r = _Reader(table, f"{where}: operations.build")
    r.only({"steps"}, "")
    steps: list[Step] = []
    for i, raw in enumerate(r.get("steps", list)):
        at = f"{where}: operations.build.steps[{i}]"
        if isinstance(raw, str):
            _check_template(raw, at, known)
            steps.append(Step(command=raw))
        elif isinstance(raw, dict) and set(raw) == {"upload"}:
            target = raw["upload"]
            if target != "@config_files" and target not in files:
                raise ProfileError(f"{at}: uploads unknown file {target!r}")
            steps.append(Step(upload=target))
        else:
            raise ProfileError(f"{at}: a step is a command string or {{upload = NAME}}")
    if not steps:
        raise ProfileError(f"{where}: operations.build.steps is empty")
    return tuple(steps)


def _list_spec(table: Any, where: str, known: set[str]) -> ListSpec:
    at = f"{where}: operations.list"
    r = _Reader(table, at)
    r.only({"command", "record", "split", "skip", "state_default"}, "")
    command = r.get("command", str)
    _check_template(command, f"{at}.command", known)
    record = _regex(r.get("record", str), f"{at}.record", re.M | re.S)
    missing = {"slot", "meta", "state"} - set(record.groupindex)
    if missing:
        raise ProfileError(f"{at}.record: needs the named groups {sorted(missing)}")
    split = r.get("split", str, None)
    return ListSpec(command=command, record=record,
                    split=_regex(split, f"{at}.split", re.M) if split else None,
                    skip=tuple(_regex(p, f"{at}.skip") for p in r.get("skip", list, [])),
                    state_default=r.get("state_default", str, None))


def _commands(raw: Any, where: str, known: set[str]) -> tuple[str, ...]:
    if isinstance(raw, Mapping):
        r = _Reader(raw, where)
        r.only({"commands"}, "")
        raw = r.get("commands", list)
    if not isinstance(raw, list):
        raise ProfileError(f"{where}: must be a list of commands")
    for i, command in enumerate(raw):
        if not isinstance(command, str):
            raise ProfileError(f"{where}[{i}]: must be a string")
        _check_template(command, f"{where}[{i}]", known)
    return tuple(raw)


def _status_map(table: Mapping[str, Any], where: str) -> dict[str, AmphoraStatus]:
    out: dict[str, AmphoraStatus] = {}
    for raw, status in table.items():
        try:
            out[raw] = AmphoraStatus(status)
        except ValueError:
            raise ProfileError(f"{where}: status_map.{raw} = {status!r} is not one of "
                               f"{[s.value for s in AmphoraStatus]}") from None
    if not out:
        raise ProfileError(f"{where}: status_map is empty")
    return out


def _check_template(template: str, where: str, known: set[str]) -> None:
    """Every placeholder must be a declared value; stray braces are refused."""
    for match in _PLACEHOLDER.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise ProfileError(f"{where}: stray {token!r} (write {{{{ or }}}} for a brace)")
        if name not in known:
            raise ProfileError(f"{where}: unknown placeholder {{{name}}} (known: "
                               f"{', '.join(sorted(known))})")


def placeholders(template: str) -> set[str]:
    """The placeholder names a template uses."""
    return {m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1)}


def _render(template: str, values: Mapping[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name is None or name not in values:
            raise InvalidRequestError(f"no value for {{{name}}}", field=str(name))
        return values[name]
    return _PLACEHOLDER.sub(sub, template)


def _expand_multiple(spec: ValueSpec, raw: str) -> str:
    if not spec.multiple:
        return raw
    items = [v.strip() for v in raw.split(",") if v.strip()]
    return "\n".join(_render(spec.item, {"n": str(i), "item": item})
                     for i, item in enumerate(items, 1))


def slot_address(network: str, offset: int, index: int) -> tuple[str, str]:
    """(address, prefix length) of slot ``index`` in ``network`` (operator-declared)."""
    net = ipaddress.ip_network(network)
    return str(net.network_address + offset + index), str(net.prefixlen)


def check_values(profile: Profile, values: Mapping[str, str],
                 templates: Sequence[str]) -> None:
    """Make sure every placeholder the templates use has a value (a profile bug otherwise)."""
    for template in templates:
        missing = placeholders(template) - set(values)
        if missing:
            raise ProfileError(f"{profile.source}: no value for {sorted(missing)}")
