"""Make every sqlite transaction of a test service ``BEGIN IMMEDIATE`` (Ironic, Nova, ...).

Why: the OpenStack services the functional tests run (Ironic here; the Nova
stack has the same trap, see RECIPES.md) use sqlite through oslo.db, which
turns pysqlite's implicit transactions off and emits a plain (DEFERRED)
``BEGIN`` itself.  A deferred transaction that reads and then writes must
upgrade its lock half-way; when another connection already writes, sqlite
answers SQLITE_BUSY *at once* (upgrading could deadlock, and in WAL mode a
stale snapshot cannot be upgraded), whatever the busy timeout.  Ironic then
answers HTTP 500 "database is locked" to some of 20 simultaneous allocation
POSTs.  ``BEGIN IMMEDIATE`` takes the write lock when the transaction starts,
so a second writer *waits* (up to the busy timeout) instead of failing, and
WAL lets readers go on meanwhile.  Production Ironic runs on MySQL or
PostgreSQL, which have no such trap: this is test plumbing only.

How it gets into a service's process (the service has its own venv):

* from the project's side, ``install_into(venv)`` copies this file into the
  venv's site-packages as ``amphora_sqlite_immediate.py`` with a
  ``amphora_sqlite_immediate.pth`` next to it; site runs the ``.pth`` import
  line at every interpreter start of that venv;
* that line calls ``activate_from_env()``, which does nothing unless the
  process has ``AMPHORA_SQLITE_IMMEDIATE`` in its environment (pip and the
  other tools of the venv are untouched); the launcher sets it with
  ``service_env()`` (the value is the busy timeout in milliseconds).

Inside the service, ``activate()`` registers two SQLAlchemy listeners (the
SQLAlchemy recipe for pysqlite transaction control): on every new DBAPI
connection ``PRAGMA busy_timeout`` and ``journal_mode = WAL`` (and pysqlite's
own implicit BEGIN made IMMEDIATE for code that does not use oslo.db); before
each statement a plain ``BEGIN`` (oslo.db's) becomes ``BEGIN IMMEDIATE``,
except in oslo.db *reader* transactions, which stay deferred: under WAL they
never need the write lock, and queueing them behind every writer made single
GETs take seconds during a burst of builds.

This module imports only the standard library at import time (SQLAlchemy is
imported inside ``activate``), so it loads in any venv.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The environment variable that switches the hook on (value: busy timeout, ms).
ENV = "AMPHORA_SQLITE_IMMEDIATE"
DEFAULT_BUSY_TIMEOUT_MS = 30000
#: The module's name inside a service's venv.
MODULE_NAME = "amphora_sqlite_immediate"
_PTH_LINE = f"import {MODULE_NAME}; {MODULE_NAME}.activate_from_env()\n"

_active = False


def service_env(busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
                base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a service process with the hook switched on."""
    env = dict(os.environ if base is None else base)
    env[ENV] = str(int(busy_timeout_ms))
    return env


def install_into(venv: Path) -> None:
    """Put this module and its ``.pth`` line into ``venv``'s site-packages (idempotent)."""
    source = Path(__file__).read_text()
    for site in sorted(Path(venv).glob("lib/python3*/site-packages")):
        _write_if_changed(site / f"{MODULE_NAME}.py", source)
        _write_if_changed(site / f"{MODULE_NAME}.pth", _PTH_LINE)


def activate_from_env() -> None:
    """Run at interpreter start (the ``.pth`` line): activate when ``ENV`` is set.

    Never raises: a broken hook must not stop the venv's Python from starting,
    so a failure is printed to stderr (the service's log) instead.
    """
    value = os.environ.get(ENV, "").strip()
    if not value or value == "0":
        return
    try:
        timeout = int(value) if value.isdigit() and int(value) > 1 else DEFAULT_BUSY_TIMEOUT_MS
        activate(timeout)
    except Exception as exc:  # pragma: no cover - reported, not hidden
        print(f"{MODULE_NAME}: not activated: {type(exc).__name__}: {exc}", file=sys.stderr)


def activate(busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
    """Register the listeners (process-wide, for every engine; once)."""
    global _active
    if _active:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if not type(dbapi_connection).__module__.startswith("sqlite3"):
            return
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # Persistent once set; asking first avoids a lock on every new connection.
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()
        # pysqlite's own implicit BEGIN (isolation_level "" means DEFERRED) for code
        # that leaves it on; oslo.db sets None and emits BEGIN itself (rewritten below).
        if getattr(dbapi_connection, "isolation_level", None) == "":
            dbapi_connection.isolation_level = "IMMEDIATE"

    def before_cursor_execute(conn: Any, _cursor: Any, statement: str, parameters: Any,
                              _context: Any, _executemany: bool) -> tuple[str, Any]:
        if conn.dialect.name == "sqlite" and statement.strip().upper() in ("BEGIN",
                                                                           "BEGIN DEFERRED"):
            statement = "BEGIN" if _in_reader() else "BEGIN IMMEDIATE"
        return statement, parameters

    event.listen(Pool, "connect", on_connect)
    event.listen(Engine, "before_cursor_execute", before_cursor_execute, retval=True)
    _track_oslo_db_modes()
    _pool_oslo_db_sqlite()
    _active = True


# -- pooled connections ---------------------------------------------------------------
#
# oslo.db gives sqlite file databases a NullPool: every transaction opens a new
# connection, parses the schema again, and closes it; in WAL mode the close of the
# last connection also checkpoints the WAL and deletes the -wal and -shm files.  A
# py-spy profile of Ironic's allocation worker showed connect + close as a third
# of its time.  A QueuePool (SQLAlchemy 2's own default for sqlite files) keeps
# connections open like the pooled MySQL or PostgreSQL of a production Ironic;
# oslo.db's process guards already replace connections inherited over a fork.

POOL_SIZE = 8
POOL_OVERFLOW = 16


def _pool_oslo_db_sqlite() -> None:
    try:
        from oslo_db.sqlalchemy import engines
        from sqlalchemy import pool
    except ImportError:
        return
    original = engines._init_connection_args
    if getattr(original, "_amphora_pooled", False):
        return

    def init_connection_args(url: Any, engine_args: dict[str, Any], kw: Any) -> None:
        original(url, engine_args, kw)
        if url.drivername.startswith("sqlite") and engine_args.get("poolclass") is pool.NullPool:
            engine_args.update(poolclass=pool.QueuePool, pool_size=POOL_SIZE,
                               max_overflow=POOL_OVERFLOW)
            engine_args.setdefault("connect_args", {})["check_same_thread"] = False

    init_connection_args._amphora_pooled = True  # type: ignore[attr-defined]
    engines._init_connection_args = init_connection_args


# -- readers stay DEFERRED ------------------------------------------------------------
#
# Under WAL a read-only transaction never needs the write lock and never fails for
# it; making it IMMEDIATE would only queue every GET behind every writer.  oslo.db's
# enginefacade knows whether a transaction is a reader or a writer: the outermost
# block of a context (where the BEGIN happens) records its mode on a per-thread
# stack, and BEGIN stays deferred only when the innermost block is a reader.  Any
# BEGIN outside enginefacade (schema tools, plain engines) is IMMEDIATE.

_modes = threading.local()


def _in_reader() -> bool:
    stack: list[Any] = getattr(_modes, "stack", None) or []
    return bool(stack) and str(getattr(stack[-1], "name", stack[-1])).endswith("READER")


def _track_oslo_db_modes() -> None:
    try:
        from oslo_db.sqlalchemy import enginefacade
    except ImportError:
        return
    ctx_class = getattr(enginefacade, "_TransactionContext", None)
    if ctx_class is None:
        return
    for name in ("_session", "_connection"):
        original = getattr(ctx_class, name, None)
        if original is not None and not getattr(original, "_amphora_tracked", False):
            setattr(ctx_class, name, _tracking(original))


def _tracking(original: Any) -> Any:
    @contextlib.contextmanager
    def block(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        stack = getattr(_modes, "stack", None)
        if stack is None:
            stack = _modes.stack = []
        stack.append(self.mode)
        try:
            with original(self, *args, **kwargs) as value:
                yield value
        finally:
            stack.pop()

    block._amphora_tracked = True  # type: ignore[attr-defined]
    return block


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
