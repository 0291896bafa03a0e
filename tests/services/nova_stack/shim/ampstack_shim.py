"""Glue that runs INSIDE the Nova stack's own venv (not the project's).

* ``noauth_filter_factory``: a paste filter put where keystonemiddleware's
  ``authtoken`` was (nova, glance, neutron); it marks every request as coming
  from one fixed admin user and project, the way authtoken would after
  validating a token.  There is no Keystone in this stack.
* ``placement_app`` / ``nova_api_app`` / ``glance_app`` / ``neutron_app``:
  WSGI entry points for gunicorn.  The services parse ``sys.argv``, so it is
  reset first (gunicorn's own arguments would be read as theirs).
* ``BindAnyMechanismDriver``: an ML2 mechanism driver that binds every port on
  any host (there are no agents; the fake virt driver plugs nothing), so Nova
  does not see ``binding_failed``.
* ``tune_sqlite``: every sqlite transaction is ``BEGIN IMMEDIATE`` with a long
  busy timeout and WAL, or parallel boots die with "database is locked"
  (oslo.db opens DEFERRED transactions that read, then write).

Only the standard library and the stack's own packages are imported here.
"""

from __future__ import annotations

import sys
import threading

PROJECT_ID = "a3f0c0de00000000000000000000a3f0"
USER_ID = "a3f0u5e400000000000000000000a3f0"


class _NoAuth:
    """What authtoken + a valid admin token would have put in the environ."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        environ.update({
            "HTTP_X_IDENTITY_STATUS": "Confirmed",
            "HTTP_X_SERVICE_IDENTITY_STATUS": "Confirmed",
            "HTTP_X_USER_ID": USER_ID,
            "HTTP_X_USER_NAME": "amphora",
            "HTTP_X_USER_DOMAIN_ID": "default",
            "HTTP_X_USER_DOMAIN_NAME": "Default",
            "HTTP_X_PROJECT_ID": PROJECT_ID,
            "HTTP_X_TENANT_ID": PROJECT_ID,
            "HTTP_X_PROJECT_NAME": "amphora",
            "HTTP_X_TENANT_NAME": "amphora",
            "HTTP_X_PROJECT_DOMAIN_ID": "default",
            "HTTP_X_PROJECT_DOMAIN_NAME": "Default",
            "HTTP_X_ROLES": "admin,member,reader",
            "HTTP_X_ROLE": "admin,member,reader",
            "HTTP_X_IS_ADMIN_PROJECT": "True",
        })
        return self.app(environ, start_response)


def noauth_filter_factory(global_conf, **local_conf):
    """paste.filter_factory in place of keystonemiddleware.auth_token."""
    return _NoAuth


class _PlacementAdmin:
    """Placement's own noauth2 takes 'user:project' from X-Auth-Token; 'admin' is admin."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        environ["HTTP_X_AUTH_TOKEN"] = "admin:" + PROJECT_ID
        return self.app(environ, start_response)


def _argv(prog):
    sys.argv = [prog]


def placement_app():
    _argv("placement-api")
    from placement.wsgi import api
    return _PlacementAdmin(api.application)


def nova_api_app():
    _argv("nova-api")
    from nova.wsgi import osapi_compute
    return osapi_compute.application


def glance_app():
    _argv("glance-api")
    from glance.wsgi import api
    return api.application


def neutron_app():
    _argv("neutron-server")
    from neutron.wsgi import api
    return api.application


#: Per thread: a stack of "is this oslo.db transaction a writer?", outermost first.
_TXN = threading.local()


def tune_sqlite():
    """BEGIN IMMEDIATE for writers + busy_timeout + WAL on every sqlite connection.

    oslo.db already turns pysqlite's implicit transactions off and emits a
    plain ``BEGIN`` itself.  A writer transaction (oslo.db's enginefacade
    ``writer``) gets ``BEGIN IMMEDIATE``: it takes the write lock up front and
    waits for it, instead of failing half-way with "database is locked" when
    it first writes after another writer committed.  Readers stay DEFERRED:
    they never need the lock in WAL mode, and the services open independent
    readers inside writers (placement re-reads a provider inside its
    allocation write on a generation conflict): an IMMEDIATE reader there
    waits on its own outer transaction for the whole busy timeout (seen here:
    placement answering 500 after 120 s under a burst of boots).
    """
    import contextlib

    from oslo_db.sqlalchemy import enginefacade
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    def on_connect(dbapi_connection, _record):
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 120000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        if conn.dialect.name == "sqlite" and statement.strip().upper() == "BEGIN":
            stack = getattr(_TXN, "writers", None)
            if not stack or stack[-1]:  # a writer, or not an enginefacade transaction
                statement = "BEGIN IMMEDIATE"
        return statement, parameters

    def track(scope):
        @contextlib.contextmanager
        def tracked(self, *args, **kwargs):
            outermost = self.session is None and self.connection is None
            if outermost:
                if not hasattr(_TXN, "writers"):
                    _TXN.writers = []
                _TXN.writers.append(self.mode is enginefacade._WRITER)
            try:
                with scope(self, *args, **kwargs) as value:
                    yield value
            finally:
                if outermost:
                    _TXN.writers.pop()
        return tracked

    context_class = enginefacade._TransactionContext
    context_class._session = track(context_class._session)
    context_class._connection = track(context_class._connection)

    event.listen(Pool, "connect", on_connect)
    event.listen(Engine, "before_cursor_execute", before_execute, retval=True)


try:  # neutron is in the stack venv; the module is also imported without it
    from neutron_lib.api.definitions import portbindings
    from neutron_lib.plugins.ml2 import api as ml2_api
except ImportError:  # pragma: no cover
    ml2_api = None

if ml2_api is not None:
    class BindAnyMechanismDriver(ml2_api.MechanismDriver):
        """Binds every port on whatever host asks (vif type 'other')."""

        def initialize(self):
            pass

        @property
        def connectivity(self):
            return "l2"

        def bind_port(self, context):
            for segment in context.segments_to_bind:
                context.set_binding(segment[ml2_api.ID], portbindings.VIF_TYPE_OTHER,
                                    {portbindings.CAP_PORT_FILTER: False}, status="ACTIVE")
                return
