"""The ``amphora`` command line.

Start-up matters (operators run it in loops, scripts run it per amphora), so
this module imports only the standard library at the top; the dispatcher, the
breakers and any backend library are imported when a command needs them.

Exit codes: 0 ok, 1 compute error, 2 usage or invalid request, 3 not found,
4 circuit open.  Expected errors print one line; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config
    from .dispatcher import Dispatcher
    from .models import Amphora

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CIRCUIT_OPEN = 0, 1, 2, 3, 4
TYPE_CHOICES = "vm, container, baremetal, hardware_lb"
NOOP_STATE_ENV = "AMPHORA_NOOP_STATE"


# -- argument parsing ---------------------------------------------------------------


def _common_options(default: Any) -> argparse.ArgumentParser:
    """--config, --format and --debug, accepted before and after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=default,
                        help="config file (default: $AMPHORA_COMPUTE_CONFIG, then "
                             "~/.config/amphora-compute/config.toml, then all-Noop)")
    common.add_argument("--format", choices=("table", "json"), default=default,
                        help="output format (default: table)")
    common.add_argument("--debug", action="store_true", default=default,
                        help="log at DEBUG and show tracebacks")
    return common


def build_parser() -> argparse.ArgumentParser:
    # A subparser writes its defaults over the main parser's values, so the
    # subcommands' copies default to SUPPRESS: `amphora --format json list` keeps json.
    common = _common_options(argparse.SUPPRESS)

    parser = argparse.ArgumentParser(
        prog="amphora", parents=[_common_options(None)],
        description="Build, watch, suspend and delete load-balancer amphorae on VMs (Nova), "
                    "containers (Zun), bare metal (Ironic) and hardware load balancers.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help_text, description=help_text)

    add("types", "show which backend serves each amphora type")
    add("plugins", "show the loaded plugins, their backends, and plugins that failed to load")
    b = add("build", "build one amphora (returns once the backend accepted it)")
    b.add_argument("--type", required=True, dest="amphora_type", help=TYPE_CHOICES)
    b.add_argument("--name", required=True)
    b.add_argument("--flavor", help="a backend flavor name, or vcpus=N,ram_mb=N,disk_gb=N")
    image = b.add_mutually_exclusive_group()
    image.add_argument("--image", help="image id")
    image.add_argument("--image-tag", help="the newest image with this tag")
    b.add_argument("--image-owner", help="only images of this owner (with --image-tag)")
    b.add_argument("--key-name")
    b.add_argument("--ssh-key", action="append", default=[], metavar="FILE",
                   help="an OpenSSH public key file (repeatable)")
    b.add_argument("--sec-group", action="append", default=[], metavar="ID")
    b.add_argument("--network", action="append", default=[], metavar="ID")
    b.add_argument("--az", help="availability zone")
    b.add_argument("--server-group")
    b.add_argument("--user-data", metavar="FILE")
    b.add_argument("--config-drive-file", action="append", default=[], metavar="DEST=SRC",
                   help="write local file SRC at DEST on the amphora (at most 5, 10 KiB each)")
    b.add_argument("--idempotency-key", help="a retried build with the same key builds nothing new")
    b.add_argument("--wait", action="store_true", help="wait until ACTIVE")
    b.add_argument("--timeout", type=float, help="seconds to wait (default per type, see config)")
    s = add("status", "normalized status of one or more amphorae (one batch call)")
    s.add_argument("ids", nargs="+", metavar="ID")
    sh = add("show", "everything known about one amphora")
    sh.add_argument("id", metavar="ID")
    ls = add("list", "amphorae built by this project")
    ls.add_argument("--type", dest="amphora_type", help=TYPE_CHOICES)
    o = add("orphans", "amphorae the controller lost track of: a dry run unless --delete")
    o.add_argument("--known", metavar="FILE",
                   help="the ids the controller knows, one per line ('-' reads stdin); every "
                        "other amphora is an orphan. Without it: amphorae in ERROR")
    o.add_argument("--type", dest="amphora_type", help=TYPE_CHOICES)
    o.add_argument("--min-age", type=float, default=None, metavar="SECONDS",
                   help="only amphorae at least this old (default 600: a build in flight is "
                        "not an orphan)")
    o.add_argument("--delete", action="store_true",
                   help="delete them (never one whose age the backend does not report)")
    d = add("delete", "delete amphorae (an amphora already gone is success)")
    d.add_argument("ids", nargs="+", metavar="ID")
    d.add_argument("--wait", action="store_true", help="wait until they are gone")
    d.add_argument("--timeout", type=float, default=600.0)
    for name, text in (("suspend", "suspend an amphora"), ("resume", "resume a suspended one")):
        p = add(name, text)
        p.add_argument("id", metavar="ID")
    add("breakers", "circuit-breaker state per backend")
    add("demo", "build one amphora of each type on the Noop backends, then clean up")
    return parser


# -- entry point --------------------------------------------------------------------


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, map errors to exit codes."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.format = args.format or "table"
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from . import errors

    try:
        return int(COMMANDS[args.command](args) or EXIT_OK)
    except errors.CircuitOpenError as exc:
        return _fail(args, exc, EXIT_CIRCUIT_OPEN)
    except errors.InstanceNotFoundError as exc:
        return _fail(args, exc, EXIT_NOT_FOUND)
    except errors.NotSuspendedError as exc:  # the caller asked for the impossible
        return _fail(args, exc, EXIT_USAGE)
    except (errors.InvalidRequestError, errors.ConfigError, errors.PluginError,
            NotImplementedError, ValueError) as exc:
        return _fail(args, exc, EXIT_USAGE)
    except BrokenPipeError:
        raise
    except (errors.AmphoraComputeError, TimeoutError, OSError) as exc:
        return _fail(args, exc, EXIT_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: ``run`` plus a quiet exit when stdout is closed early."""
    try:
        return run(argv)
    except BrokenPipeError:  # `amphora list | head`: not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _fail(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    if args.debug:
        traceback.print_exception(exc)
    if args.format == "json":
        print(json.dumps({"error": type(exc).__name__, "message": str(exc), "exit_code": code}))
    print(f"amphora: error: {exc}", file=sys.stderr)
    return code


# -- helpers ------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Config:
    from .config import load_config

    config = load_config(args.config)
    # From the CLI, Noop state lives in a file so that the next command sees it.
    state = os.environ.get(NOOP_STATE_ENV) or str(_state_dir() / "noop-state.json")
    for backend in set(config.types.values()):
        if backend.startswith("noop-") and "state_file" not in config.backend_options(backend):
            config = config.with_backend_options(backend, state_file=state)
    return config


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "amphora-compute"


def _dispatcher(args: argparse.Namespace, config: Config | None = None) -> Dispatcher:
    from .dispatcher import Dispatcher

    return Dispatcher(config or _config(args))


def _emit(args: argparse.Namespace, data: Any, columns: Sequence[str] | None = None) -> None:
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=False, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        print("(none)")
        return
    cols = list(columns or rows[0].keys())
    cells = [[_cell(row.get(c)) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


AMPHORA_COLUMNS = ("id", "name", "type", "backend", "status", "addresses", "fault")


def _read_file(path: str, what: str) -> bytes:
    from .errors import InvalidRequestError

    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror}", field=what) from None


def _wait(dispatcher: Dispatcher, ids: list[str], status: str, timeout: float,
          label: str = "") -> dict[str, Amphora]:
    """Wait with a one-line progress display on stderr when it is a terminal."""
    import asyncio

    from .aio import AsyncDispatcher
    from .enums import AmphoraStatus

    wanted = AmphoraStatus(status)
    start = time.monotonic()
    show = sys.stderr.isatty()

    def progress(records: dict[str, Amphora]) -> None:
        if not show:
            return
        done = sum(1 for a in records.values() if a.status is wanted)
        states = ", ".join(f"{(a.name or a.id[:8])}={a.status.value}" for a in records.values())
        line = f"\r{label}waiting for {wanted.value}: {done}/{len(ids)} [{states}] " \
               f"{time.monotonic() - start:.1f}s"
        sys.stderr.write(line[:200].ljust(80))
        sys.stderr.flush()

    async def run() -> dict[str, Amphora]:
        facade = AsyncDispatcher(dispatcher, pool_size=4)
        try:
            return await facade.wait_for(ids, wanted, timeout, on_progress=progress)
        finally:
            facade._pool.shutdown(wait=True)

    try:
        return asyncio.run(run())
    finally:
        if show:
            sys.stderr.write("\n")


# -- commands -----------------------------------------------------------------------


def cmd_types(args: argparse.Namespace) -> int:
    from .enums import AmphoraType

    config = _config(args)
    with _dispatcher(args, config) as dispatcher:
        registry = dispatcher.plugins.registry
        rows = []
        for amphora_type in AmphoraType:
            backend = config.types[amphora_type]
            spec = registry.get(backend) if backend in registry else None
            rows.append({"type": amphora_type.value, "backend": backend,
                         "plugin": spec.plugin if spec else "MISSING",
                         "description": spec.description if spec else "no such backend"})
    _emit(args, rows)
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import load_plugins

    config = _config(args)
    plugin_set = load_plugins(config.disabled_plugins)
    rows: list[dict[str, Any]] = [
        {"plugin": p.name, "source": p.source, "backends": list(p.backends), "status": "loaded",
         "error": None} for p in plugin_set.plugins]
    rows += [{"plugin": f.name, "source": f.source, "backends": [], "status": "FAILED",
              "error": f.error} for f in plugin_set.failures]
    _emit(args, rows)
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from .enums import AmphoraType
    from .errors import InvalidRequestError
    from .models import BuildRequest, Flavor, ImageRef

    try:
        amphora_type = AmphoraType.parse(args.amphora_type)
    except ValueError as exc:
        raise InvalidRequestError(str(exc), field="type") from None
    files: dict[str, bytes] = {}
    for item in args.config_drive_file:
        dest, sep, src = item.partition("=")
        if not sep or not dest or not src:
            raise InvalidRequestError(f"{item!r} is not DEST=SRC", field="config_drive_files")
        files[dest] = _read_file(src, "config_drive_files")
    image = None
    if args.image or args.image_tag:
        image = ImageRef(id=args.image, tag=args.image_tag, owner=args.image_owner)
    elif args.image_owner:
        raise InvalidRequestError("--image-owner needs --image-tag", field="image_owner")
    keys = tuple(_read_file(p, "ssh_keys").decode(errors="replace").strip()
                 for p in args.ssh_key)
    request = BuildRequest(
        name=args.name, amphora_type=amphora_type, flavor=Flavor.parse(args.flavor),
        image=image, ssh_keys=keys, key_name=args.key_name,
        security_groups=tuple(args.sec_group), network_ids=tuple(args.network),
        availability_zone=args.az, server_group=args.server_group,
        config_drive_files=files,
        user_data=_read_file(args.user_data, "user_data") if args.user_data else None,
        idempotency_key=args.idempotency_key)
    config = _config(args)
    with _dispatcher(args, config) as dispatcher:
        amphora_id = dispatcher.build(request)
        status = "BUILDING"
        record: Amphora | None = None
        if args.wait:
            timeout = args.timeout or config.wait_timeouts[amphora_type]
            record = _wait(dispatcher, [amphora_id], "ACTIVE", timeout)[amphora_id]
            status = record.status.value
    if args.format == "json":
        out: dict[str, Any] = {"id": amphora_id, "status": status}
        if record is not None:
            out["amphora"] = record.to_dict()
        _emit(args, out)
    else:
        _emit(args, record.to_dict() if record else {"id": amphora_id, "status": status},
              AMPHORA_COLUMNS if record else None)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    with _dispatcher(args) as dispatcher:
        records = dispatcher.statuses(args.ids)
    rows = [{"id": i, "status": records[i].status.value, "fault": records[i].fault}
            for i in args.ids]
    _emit(args, rows)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    with _dispatcher(args) as dispatcher:
        record = dispatcher.get_amphora(amphora_id=args.id)
    if args.format == "json":
        _emit(args, record.to_dict())
    else:
        for key, value in record.to_dict().items():
            print(f"{key:18} {_cell(value)}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from .enums import AmphoraType

    kind = AmphoraType.parse(args.amphora_type) if args.amphora_type else None
    with _dispatcher(args) as dispatcher:
        records = dispatcher.list(kind)
    _emit(args, [r.to_dict() for r in records], AMPHORA_COLUMNS)
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    with _dispatcher(args) as dispatcher:
        for amphora_id in args.ids:
            dispatcher.delete(amphora_id)
        if args.wait:
            _wait(dispatcher, list(args.ids), "DELETED", args.timeout)
    _emit(args, [{"id": i, "status": "DELETED" if args.wait else "DELETING"}
                 for i in args.ids])
    return EXIT_OK


def cmd_orphans(args: argparse.Namespace) -> int:
    from .enums import AmphoraType
    from .errors import AmphoraComputeError, InvalidRequestError
    from .orphans import DEFAULT_MIN_AGE, find_orphans

    min_age = DEFAULT_MIN_AGE if args.min_age is None else args.min_age
    if not min_age >= 0:
        raise InvalidRequestError("--min-age must be 0 or more seconds", field="min_age")
    known = _known_ids(args.known) if args.known else None
    if known is not None and not known and args.delete:
        raise InvalidRequestError(f"{args.known} lists no ids: refusing to delete every amphora",
                                  field="known")
    kind = AmphoraType.parse(args.amphora_type) if args.amphora_type else None
    failed = 0
    with _dispatcher(args) as dispatcher:
        orphans = find_orphans(dispatcher.list(kind), known, min_age=min_age)
        rows = [orphan.to_dict() for orphan in orphans]
        for row, orphan in zip(rows, orphans, strict=True):
            if not args.delete:
                row["action"] = "none (dry run)"
            elif orphan.age_unknown:
                row["action"] = "kept: the backend reports no age"
            else:
                try:
                    dispatcher.delete(orphan.amphora.id)
                    row["action"] = "deleted"
                except AmphoraComputeError as exc:
                    row["action"] = f"delete failed: {exc}"
                    failed += 1
    _emit(args, rows, ("id", "type", "backend", "status", "age_s", "reason", "action"))
    if rows and not args.delete and args.format == "table":
        print(f"dry run: {len(rows)} orphan(s); pass --delete to delete them", file=sys.stderr)
    return EXIT_ERROR if failed else EXIT_OK


def _known_ids(path: str) -> set[str]:
    """Ids from a file (or stdin for '-'): one per line; blank lines and '#' comments skipped."""
    text = sys.stdin.read() if path == "-" else _read_file(path, "known").decode(
        "utf-8", errors="replace")
    return {line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")}


def _simple(op: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with _dispatcher(args) as dispatcher:
            getattr(dispatcher, op)(args.id)
            status = dispatcher.status(args.id)
        _emit(args, {"id": args.id, "status": status.value})
        return EXIT_OK

    run.__name__ = f"cmd_{op}"
    return run


def cmd_breakers(args: argparse.Namespace) -> int:
    with _dispatcher(args) as dispatcher:
        rows = dispatcher.breaker_snapshot()
    _emit(args, rows, ("name", "state", "fail_counter", "fail_max", "reset_timeout",
                       "retry_at", "last_error"))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole lifecycle on the embedded default (Noop), with private in-memory state."""
    from .config import DEFAULT_TYPES, Config
    from .dispatcher import Dispatcher
    from .enums import AmphoraType
    from .errors import AmphoraComputeError
    from .models import BuildRequest, Flavor

    build_times = {AmphoraType.VM: 1.2, AmphoraType.CONTAINER: 0.4,
                   AmphoraType.BAREMETAL: 1.6, AmphoraType.HARDWARE_LB: 0.8}
    config = Config(types=dict(DEFAULT_TYPES),
                    backends={DEFAULT_TYPES[t]: {"build_time": s} for t, s in build_times.items()})
    say = (lambda *_: None) if args.format == "json" else print
    with Dispatcher(config) as dispatcher:
        ids: list[str] = []
        for amphora_type in AmphoraType:
            request = BuildRequest(name=f"demo-{amphora_type.value.replace('_', '-')}",
                                   amphora_type=amphora_type,
                                   flavor=Flavor(vcpus=1, ram_mb=1024, disk_gb=2))
            ids.append(dispatcher.build(request))
            say(f"build {request.name}: accepted as {ids[-1]}")
        records = _wait(dispatcher, ids, "ACTIVE", timeout=60)
        rows = [records[i].to_dict() for i in ids]
        if args.format == "table":
            _emit(args, rows, AMPHORA_COLUMNS)
        victim = ids[0]
        dispatcher.suspend(victim)
        suspended = dispatcher.status(victim).value
        say(f"suspend {victim}: {suspended}")
        dispatcher.resume(victim)
        resumed = dispatcher.status(victim).value
        say(f"resume {victim}: {resumed}")
        for amphora_id in ids:
            dispatcher.delete(amphora_id)
        gone = dispatcher.statuses(ids)
        say("delete: " + ", ".join(f"{i[:8]}={gone[i].status.value}" for i in ids))
        if any(a.status.value != "DELETED" for a in gone.values()):
            raise AmphoraComputeError("demo: an amphora was not deleted")
    if args.format == "json":
        _emit(args, {"built": rows, "suspended": suspended, "resumed": resumed,
                     "deleted": ids})
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "types": cmd_types,
    "plugins": cmd_plugins,
    "build": cmd_build,
    "status": cmd_status,
    "show": cmd_show,
    "list": cmd_list,
    "delete": cmd_delete,
    "orphans": cmd_orphans,
    "suspend": _simple("suspend"),
    "resume": _simple("resume"),
    "breakers": cmd_breakers,
    "demo": cmd_demo,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
