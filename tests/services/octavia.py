"""A real OpenStack Octavia 19 controller for the functional tests and the bench.

What it runs: Octavia (pinned, from PyPI) in its own cached venv with this
project installed into it (so Octavia's stevedore finds the
``amphora_compute`` entry point in ``octavia.compute.drivers``; reinstalled
whenever the source changes), ``octavia-api`` and ``octavia-worker`` (v2 flows,
jobboard off) over a private RabbitMQ (Debian's package, started as a plain
process with its own HOME, cookie, node name, epmd port and AMQP port: fully
independent of any other RabbitMQ on the machine), sqlite, ``noauth``, the
noop amphora and network drivers, and ``compute_driver`` = the adapter under
test or Octavia's own ``compute_noop_driver`` (the bench's baseline).

Traps handled here (see RECIPES.md, "Octavia"):

* ``octavia-db-manage upgrade head`` fails on sqlite: the schema is made with
  ``create_all`` from Octavia's models, seeded as Octavia's functional tests
  seed it (lookup tables, the DELETED placeholder flavor and availability
  zone), then stamped ``head``; the seeded file is cached beside the venv.
* SQLAlchemy 2.1 rejects Octavia's default ``pool_timeout`` on sqlite:
  ``[database] pool_timeout =`` (empty).
* The noop network and compute drivers open ``/tmp/octavia-network-noop.db``,
  a path fixed in Octavia's code (no TMPDIR helps).  As root, each Octavia
  process runs in its own mount namespace where ``/tmp`` is this run's
  private directory, so two Octavias (the bench's pair, a test run beside a
  manual one) never share that file and nothing is left in the real /tmp.
  The work directory therefore lives outside /tmp.
* Even with the noop amphora driver the create flow makes certificates: a CA
  and a client CA are made with openssl.

By hand::

    python -m tests.services.octavia            # the adapter over the Noop backends
    python -m tests.services.octavia --compute-driver compute_noop_driver
    # prints the API URL; Ctrl-C stops everything and removes its files

Talking to it uses plain JSON over ``urllib``, so this module works in any venv.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.services._proc import (
    ManagedProcess,
    cache_dir,
    cached_venv,
    file_lock,
    free_port,
    http_ok,
    port_open,
    serve_until_stopped,
    wait_until,
)

OCTAVIA_REQUIREMENTS = ("octavia==19.0.0",)
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The adapter's entry-point name, and Octavia's own noop compute driver (the baseline).
ADAPTER_DRIVER = "amphora_compute"
OCTAVIA_NOOP_DRIVER = "compute_noop_driver"
#: Set to keep work directories (logs, configs, state) after the run, for debugging.
KEEP_ENV = "AMPHORA_OCTAVIA_KEEP"
#: The project's extras installed into Octavia's venv (the backends Octavia is tested on).
PROJECT_EXTRAS = "ironic"
#: A project id for ``noauth`` requests (Octavia then reads it from the body).
PROJECT_ID = "amphora-compute-tests"
#: Octavia's own fixed path for the noop drivers' sqlite file.
NOOP_DB_PATH = "/tmp/octavia-network-noop.db"
START_TIMEOUT = 90.0
#: Seconds between "still building" checks and how many: small, so fault tests end fast.
AMP_ACTIVE_WAIT_SEC = 1
AMP_ACTIVE_RETRIES = 5
#: The v2 worker's RPC topic (octavia.common.constants.TOPIC_AMPHORA_V2): the API's casts
#: are lost until its queue has a consumer.
RPC_TOPIC = "octavia_provisioning_v2"
CA_KEY_PASSPHRASE = "amphora-compute-test-ca"
SERVER_CERTS_KEY_PASSPHRASE = "amphora-compute-tests-0123456789"  # 32 chars, as required


class OctaviaError(RuntimeError):
    """The test Octavia answered with an error or did not reach a state in time."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# -- the venv ------------------------------------------------------------------------


def octavia_venv() -> Path:
    """Octavia's venv (cached), with this repository installed into it."""
    venv = cached_venv("octavia", list(OCTAVIA_REQUIREMENTS))
    _install_project(venv)
    return venv


def _source_digest() -> str:
    """A hash of everything that goes into the installed package."""
    digest = hashlib.sha256()
    files = [REPO_ROOT / "pyproject.toml", REPO_ROOT / "setup.py"]
    for folder in ("core", "drivers", "hardware_profiles"):
        files += sorted(p for p in (REPO_ROOT / folder).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _install_project(venv: Path) -> None:
    """``pip install <repo>`` into Octavia's venv unless this very source is already there.

    Not editable: Octavia's processes run with a private /tmp (see
    ``private_tmp_prefix``), where a checkout under /tmp (as CI's clone may be)
    would vanish from an editable install's path.  Reinstalled whenever the
    package's source changes (a hash of it is the stamp).
    """
    stamp = f"{PROJECT_EXTRAS}\n{_source_digest()}\n"
    marker = venv / ".amphora-compute-install"
    with file_lock(cache_dir() / "venvs" / "octavia-project.lock"):
        if marker.exists() and marker.read_text() == stamp:
            return
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check"]
        with tempfile.TemporaryDirectory(prefix="amphora-octavia-pip-") as tmp:
            env = {**os.environ, "TMPDIR": tmp}
            # The extras' dependencies first, then this source for sure (same version).
            for args in ([f"{REPO_ROOT}[{PROJECT_EXTRAS}]"],
                         ["--force-reinstall", "--no-deps", str(REPO_ROOT)]):
                result = subprocess.run([*pip, *args], timeout=600, capture_output=True,
                                        text=True, env=env)
                if result.returncode != 0:
                    raise OctaviaError(f"installing {REPO_ROOT} into Octavia's venv failed:\n"
                                       f"{result.stderr[-3000:]}")
        marker.write_text(stamp)


# -- the database --------------------------------------------------------------------

_DB_INIT_SCRIPT = r'''
import os, sys, types
from alembic import command
from alembic import config as alembic_config
import sqlalchemy as sa
from sqlalchemy import orm
from octavia.common import constants
from octavia.db import base_models, models
import octavia.db.migration as migration

url = "sqlite:///" + sys.argv[1]
engine = sa.create_engine(url)
base_models.BASE.metadata.create_all(engine)
lookups = [
    (constants.SUPPORTED_PROVISIONING_STATUSES, models.ProvisioningStatus),
    (constants.SUPPORTED_HEALTH_MONITOR_TYPES, models.HealthMonitorType),
    (constants.SUPPORTED_LB_ALGORITHMS, models.Algorithm),
    (constants.SUPPORTED_PROTOCOLS, models.Protocol),
    (constants.SUPPORTED_OPERATING_STATUSES, models.OperatingStatus),
    (constants.SUPPORTED_SP_TYPES, models.SessionPersistenceType),
    (constants.SUPPORTED_AMPHORA_ROLES, models.AmphoraRoles),
    (constants.SUPPORTED_LB_TOPOLOGIES, models.LBTopology),
    (constants.SUPPORTED_VRRP_AUTH, models.VRRPAuthMethod),
    (constants.SUPPORTED_L7RULE_TYPES, models.L7RuleType),
    (constants.SUPPORTED_L7RULE_COMPARE_TYPES, models.L7RuleCompareType),
    (constants.SUPPORTED_L7POLICY_ACTIONS, models.L7PolicyAction),
    (constants.SUPPORTED_CLIENT_AUTH_MODES, models.ClientAuthenticationMode),
]
with orm.Session(engine) as session, session.begin():
    for names, model in lookups:
        for name in names:
            session.add(model(name=name))
    session.add(models.FlavorProfile(
        id=constants.NIL_UUID, name="DELETED-PLACEHOLDER",
        provider_name=constants.DELETED, flavor_data="{}"))
    session.flush()
    session.add(models.Flavor(
        id=constants.NIL_UUID, flavor_profile_id=constants.NIL_UUID,
        name="DELETED-PLACEHOLDER", enabled=False,
        description="Placeholder for DELETED LBs with DELETED flavors"))
    session.flush()
    session.add(models.AvailabilityZoneProfile(
        id=constants.NIL_UUID, name="DELETED-PLACEHOLDER",
        provider_name=constants.DELETED, availability_zone_data="{}"))
    session.flush()
    session.add(models.AvailabilityZone(
        availability_zone_profile_id=constants.NIL_UUID, name=constants.NIL_UUID,
        enabled=False,
        description="Placeholder for DELETED LBs with DELETED availability zones"))
cfg = alembic_config.Config(os.path.join(os.path.dirname(migration.__file__), "alembic.ini"))
cfg.set_main_option("script_location", "octavia.db.migration:alembic_migrations")
cfg.octavia_config = types.SimpleNamespace(database=types.SimpleNamespace(connection=url))
command.stamp(cfg, "head")
'''


def seeded_database(venv: Path) -> Path:
    """An empty, seeded and stamped Octavia sqlite database, made once per venv."""
    path = venv / "amphora-seed" / "octavia.sqlite"
    with file_lock(venv / "amphora-seed.lock"):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            result = subprocess.run([str(venv / "bin" / "python"), "-c", _DB_INIT_SCRIPT,
                                     str(partial)], capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                raise OctaviaError(f"seeding Octavia's database failed:\n{result.stderr[-3000:]}")
            partial.rename(path)
    return path


# -- certificates --------------------------------------------------------------------


def make_certificates(directory: Path) -> dict[str, Path]:
    """A CA (signs the amphorae's server certs) and a client CA, made with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name in ("ca", "client_ca"):
        key, cert = directory / f"{name}.key", directory / f"{name}.pem"
        # Octavia passes its (non-empty) passphrase to the key loader: encrypt the key.
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256",
             "-passout", f"pass:{CA_KEY_PASSPHRASE}", "-days", "2",
             "-subj", f"/CN=amphora-compute test {name}",
             "-keyout", str(key), "-out", str(cert)],
            check=True, timeout=60, capture_output=True)
        out[f"{name}_key"], out[f"{name}_cert"] = key, cert
    return out


# -- RabbitMQ ------------------------------------------------------------------------


@dataclass
class RabbitMQ:
    """A private RabbitMQ node (own HOME, cookie, node name, epmd and ports) on loopback."""

    workdir: Path
    amqp_port: int = 0
    dist_port: int = 0
    epmd_port: int = 0
    epmd: ManagedProcess | None = None
    server: ManagedProcess | None = None

    @property
    def transport_url(self) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.amqp_port}/"

    def start(self, timeout: float = 60.0) -> RabbitMQ:
        """Launch and wait until the AMQP port answers."""
        self.launch()
        self.wait(timeout)
        return self

    def launch(self) -> RabbitMQ:
        """Start epmd and the node without waiting for the broker (it boots in ~15 s)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.amqp_port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)
        (self.workdir / "enabled_plugins").write_text("[].\n")
        (self.workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            "loopback_users = none\n"
            "log.console = true\nlog.console.level = warning\nlog.file = false\n")
        env = self._env(home)
        # Our own epmd, in the foreground: Erlang would otherwise start a daemonized
        # one that outlives the process group.
        self.epmd = ManagedProcess(
            "epmd", ["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            self.workdir / "epmd.log", env=env).start()
        wait_until(lambda: port_open("127.0.0.1", self.epmd_port), timeout=10, what="epmd")
        self.server = ManagedProcess(
            "rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
            self.workdir / "rabbitmq.log", env=env, cwd=self.workdir).start()
        return self

    def wait(self, timeout: float = 60.0) -> None:
        """Until the AMQP port answers; stops everything and raises if it does not."""
        assert self.server is not None, "launch() first"
        try:
            self.server.wait_ready(lambda: port_open("127.0.0.1", self.amqp_port), timeout,
                                   "rabbitmq", OctaviaError, interval=0.2)
        except OctaviaError:
            self.stop()  # the whole broker (its own stop), not only the server process
            raise

    def _env(self, home: Path) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        node = f"amp-octavia-{self.amqp_port}@localhost"
        return {
            **base,
            "HOME": str(home),
            "RABBITMQ_NODENAME": node,
            "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.workdir / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid"),
            "RABBITMQ_CONF_ENV_FILE": str(self.workdir / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.workdir / "advanced.config"),
            "RABBITMQ_LOGS": "-",
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=20)
        if self.epmd is not None:
            self.epmd.stop(timeout=5)


# -- Octavia -------------------------------------------------------------------------


def write_octavia_config(workdir: Path, *, api_port: int, transport_url: str,
                         compute_driver: str, certs: Mapping[str, Path],
                         amphora_compute_config: Path | None = None,
                         extra: Mapping[str, Mapping[str, str]] | None = None,
                         debug: bool = True) -> Path:
    """octavia.conf for noauth, sqlite, noop amphora/network drivers and ``compute_driver``.

    ``extra`` adds or overrides options per section (an empty value is written empty).
    """
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {"transport_url": transport_url, "debug": str(debug).lower(),
                    "use_stderr": "true", "host": f"amphora-octavia-{api_port}"},
        "api_settings": {"bind_host": "127.0.0.1", "bind_port": str(api_port),
                         "auth_strategy": "noauth", "api_v2_enabled": "true",
                         "default_provider_driver": "amphora",
                         "enabled_provider_drivers":
                             "amphora:The Octavia Amphora driver.,"
                             "octavia:Deprecated alias of the Octavia Amphora driver."},
        "database": {"connection": f"sqlite:///{workdir / 'octavia.sqlite'}",
                     "pool_timeout": ""},
        "controller_worker": {
            "amphora_driver": "amphora_noop_driver",
            "compute_driver": compute_driver,
            "network_driver": "network_noop_driver",
            "amp_active_retries": str(AMP_ACTIVE_RETRIES),
            "amp_active_wait_sec": str(AMP_ACTIVE_WAIT_SEC),
            "amp_flavor_id": "",
            "amp_image_tag": "amphora",
            "amp_boot_network_list": str(uuid.UUID(int=1)),
            "client_ca": str(certs["client_ca_cert"]),
            "loadbalancer_topology": "SINGLE",
            "workers": "1",
        },
        "certificates": {"cert_generator": "local_cert_generator",
                         "ca_certificate": str(certs["ca_cert"]),
                         "ca_private_key": str(certs["ca_key"]),
                         "ca_private_key_passphrase": CA_KEY_PASSPHRASE,
                         "server_certs_key_passphrase": SERVER_CERTS_KEY_PASSPHRASE},
        "haproxy_amphora": {"client_cert": str(certs["client_ca_cert"]),
                            "server_ca": str(certs["ca_cert"])},
        "task_flow": {"jobboard_enabled": "False"},
        "nova": {"enable_anti_affinity": "True", "anti_affinity_policy": "anti-affinity"},
        "compute": {"max_retries": "3", "retry_interval": "1", "retry_backoff": "1",
                    "retry_max": "2"},
        "oslo_concurrency": {"lock_path": str(workdir / "locks")},
        # RabbitMQ boots while Octavia imports: retry the first connection every second.
        "oslo_messaging_rabbit": {"rabbit_retry_interval": "1", "rabbit_retry_backoff": "0",
                                  "rabbit_interval_max": "1"},
    }
    if amphora_compute_config is not None:
        sections["amphora_compute"] = {"config_file": str(amphora_compute_config)}
    for name, values in (extra or {}).items():
        sections.setdefault(name, {}).update(values)
    path = workdir / "octavia.conf"
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {value}".rstrip() for key, value in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def private_tmp_prefix(private_tmp: Path) -> list[str]:
    """Run a command with ``private_tmp`` mounted on /tmp in its own mount namespace.

    Only root can; elsewhere the command runs as is and shares Octavia's fixed
    /tmp/octavia-network-noop.db with any other Octavia on the machine.
    """
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return []
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'mount --bind "{private_tmp}" /tmp && exec "$@"', "octavia-private-tmp"]


def _work_root() -> Path:
    """A parent for work directories outside /tmp (which is replaced in the namespace)."""
    for candidate in (os.environ.get("AMPHORA_OCTAVIA_WORKDIR"), "/var/tmp",
                      str(cache_dir() / "run")):
        if candidate:
            path = Path(candidate)
            with contextlib.suppress(OSError):
                path.mkdir(parents=True, exist_ok=True)
                if os.access(path, os.W_OK) and not str(path.resolve()).startswith("/tmp"):
                    return path
    return cache_dir()


_CONSUMER_PROBE = r'''
import sys, time
import amqp
port, queue = int(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    conn = amqp.Connection(host=f"127.0.0.1:{port}", userid="guest", password="guest",
                           connect_timeout=2)
    try:
        conn.connect()
        try:
            _, _, consumers = conn.channel().queue_declare(queue, passive=True)
        except amqp.exceptions.NotFound:
            consumers = 0
        if consumers:
            sys.exit(0)
    finally:
        try:
            conn.close()
        except Exception:
            pass
    time.sleep(0.1)
sys.exit(1)
'''


@dataclass
class OctaviaService:
    """One running Octavia (API + worker + its RabbitMQ); ``url`` is its API."""

    workdir: Path
    venv: Path
    compute_driver: str = ADAPTER_DRIVER
    amphora_compute_config: Path | None = None
    extra_config: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    debug: bool = True
    api_port: int = 0
    rabbit: RabbitMQ | None = None
    api: ManagedProcess | None = None
    worker: ManagedProcess | None = None
    config_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def worker_log(self) -> Path:
        return self.workdir / "octavia-worker.log"

    @property
    def api_log(self) -> Path:
        return self.workdir / "octavia-api.log"

    # -- lifecycle ----------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> OctaviaService:
        """RabbitMQ, config, database, then octavia-api and octavia-worker (about 20 s)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        private_tmp = self.workdir / "tmp"
        private_tmp.mkdir(exist_ok=True)
        (self.workdir / "locks").mkdir(exist_ok=True)
        deadline = time.monotonic() + timeout
        # RabbitMQ boots while Octavia imports (both take ~15 s); oslo.messaging retries
        # its first connection, and readiness below waits for the worker's queue.
        self.rabbit = RabbitMQ(self.workdir / "rabbitmq")
        self.rabbit.launch()
        certs = make_certificates(self.workdir / "certs")
        self.api_port = free_port()
        self.config_path = write_octavia_config(
            self.workdir, api_port=self.api_port, transport_url=self.rabbit.transport_url,
            compute_driver=self.compute_driver, certs=certs,
            amphora_compute_config=self.amphora_compute_config, extra=self.extra_config,
            debug=self.debug)
        shutil.copyfile(seeded_database(self.venv), self.workdir / "octavia.sqlite")
        # The adapter's config file is named in octavia.conf ([amphora_compute]
        # config_file); the environment variable is passed only when asked for.
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "AMPHORA_COMPUTE_CONFIG")}
        env.update({"TMPDIR": str(private_tmp),
                    "PATH": f"{self.venv / 'bin'}:{os.environ.get('PATH', '')}",
                    **self.extra_env})
        prefix = private_tmp_prefix(private_tmp)
        conf = ["--config-file", str(self.config_path)]
        self.worker = ManagedProcess(
            "octavia-worker", [*prefix, str(self.venv / "bin" / "octavia-worker"), *conf],
            self.worker_log, env=env, cwd=self.workdir).start()
        self.api = ManagedProcess(
            "octavia-api", [*prefix, str(self.venv / "bin" / "octavia-api"), *conf],
            self.api_log, env=env, cwd=self.workdir).start()
        try:
            self.rabbit.wait(max(1.0, deadline - time.monotonic()))
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline: float) -> None:
        """The API answers and the worker consumes from its queue."""
        assert self.api is not None and self.worker is not None
        while True:
            for proc in (self.api, self.worker):
                if not proc.alive():
                    raise OctaviaError(f"{proc.name} exited at start:\n{proc.log_tail(60)}")
            if http_ok(self.url + "/", timeout=2) and self._worker_consuming():
                return
            if time.monotonic() > deadline:
                raise OctaviaError(
                    f"Octavia not ready in time.\napi:\n{self.api.log_tail(30)}\n"
                    f"worker:\n{self.worker.log_tail(30)}")
            time.sleep(0.2)

    def _worker_consuming(self) -> bool:
        """The worker's RPC queue exists and has a consumer (else the API's casts are lost).

        Asked over AMQP with a passive declare, from Octavia's venv (it has ``amqp``).
        """
        try:
            text = self.worker_log.read_text(errors="replace")
        except OSError:
            return False
        if "Starting V2 consumer" not in text:
            return False
        assert self.rabbit is not None
        result = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", _CONSUMER_PROBE,
             str(self.rabbit.amqp_port), RPC_TOPIC],
            capture_output=True, text=True, timeout=30)
        return result.returncode == 0

    def stop(self) -> None:
        """Stop every process group this service started; safe to call twice."""
        for proc in (self.api, self.worker):
            if proc is not None:
                proc.stop(timeout=15)
        if self.rabbit is not None:
            self.rabbit.stop()

    # -- REST helpers (plain JSON) ----------------------------------------------------

    def request(self, method: str, path: str, body: Any = None,
                timeout: float = 30.0) -> Any:
        """One JSON request to the API; OctaviaError with Octavia's words on 4xx/5xx."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as resp:
                text = resp.read()
        except urllib.error.HTTPError as exc:
            raise OctaviaError(f"{method} {path}: HTTP {exc.code}: "
                               f"{exc.read().decode(errors='replace')[:800]}",
                               status=exc.code) from exc
        return json.loads(text) if text else None

    def create_flavor(self, name: str, flavor_data: Mapping[str, Any]) -> str:
        """A flavor profile (provider amphora) and a flavor using it; returns the flavor id."""
        profile = self.request("POST", "/v2/lbaas/flavorprofiles", {"flavorprofile": {
            "name": f"{name}-profile", "provider_name": "amphora",
            "flavor_data": json.dumps(dict(flavor_data))}})["flavorprofile"]
        flavor = self.request("POST", "/v2/lbaas/flavors", {"flavor": {
            "name": name, "flavor_profile_id": profile["id"], "enabled": True}})["flavor"]
        return str(flavor["id"])

    def create_availability_zone(self, name: str, zone_data: Mapping[str, Any]) -> str:
        profile = self.request("POST", "/v2/lbaas/availabilityzoneprofiles", {
            "availability_zone_profile": {
                "name": f"{name}-profile", "provider_name": "amphora",
                "availability_zone_data": json.dumps(dict(zone_data))}})
        profile = profile["availability_zone_profile"]
        self.request("POST", "/v2/lbaas/availabilityzones", {"availability_zone": {
            "name": name, "availability_zone_profile_id": profile["id"], "enabled": True}})
        return name

    def create_load_balancer(self, name: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, "project_id": PROJECT_ID,
                "vip_subnet_id": str(uuid.uuid4()), **fields}
        result: dict[str, Any] = self.request(
            "POST", "/v2/lbaas/loadbalancers", {"loadbalancer": body})["loadbalancer"]
        return result

    def load_balancer(self, lb_id: str) -> dict[str, Any] | None:
        """The LB record, or None once Octavia no longer shows it (deleted)."""
        try:
            result: dict[str, Any] = self.request(
                "GET", f"/v2/lbaas/loadbalancers/{lb_id}")["loadbalancer"]
        except OctaviaError as exc:
            if exc.status == 404:
                return None
            raise
        if result.get("provisioning_status") == "DELETED":
            return None
        return result

    def wait_load_balancer(self, lb_id: str, statuses: Sequence[str],
                           timeout: float = 60.0, interval: float = 0.05) -> dict[str, Any]:
        """Poll until the LB's provisioning_status is one of ``statuses``; return it."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.load_balancer(lb_id)
            if last is not None and last["provisioning_status"] in statuses:
                return last
            if last is None:
                raise OctaviaError(f"load balancer {lb_id} disappeared")
            time.sleep(interval)
        raise OctaviaError(f"load balancer {lb_id} not in {list(statuses)} after "
                           f"{timeout:.0f}s (last: {last and last['provisioning_status']})")

    def delete_load_balancer(self, lb_id: str, cascade: bool = True) -> None:
        self.request("DELETE", f"/v2/lbaas/loadbalancers/{lb_id}"
                     + ("?cascade=true" if cascade else ""))

    def wait_deleted(self, lb_id: str, timeout: float = 60.0, interval: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while self.load_balancer(lb_id) is not None:
            if time.monotonic() > deadline:
                raise OctaviaError(f"load balancer {lb_id} not deleted after {timeout:.0f}s")
            time.sleep(interval)

    def failover_load_balancer(self, lb_id: str) -> None:
        self.request("PUT", f"/v2/lbaas/loadbalancers/{lb_id}/failover")

    def amphorae(self, lb_id: str | None = None) -> list[dict[str, Any]]:
        """Octavia's amphora records (all statuses, DELETED included)."""
        query = f"?loadbalancer_id={lb_id}" if lb_id else ""
        result: list[dict[str, Any]] = self.request(
            "GET", f"/v2/octavia/amphorae{query}")["amphorae"]
        return result

    def worker_log_text(self) -> str:
        try:
            return self.worker_log.read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def octavia_service(*, compute_driver: str = ADAPTER_DRIVER,
                    amphora_compute_config: Path | None = None,
                    extra_config: Mapping[str, Mapping[str, str]] | None = None,
                    extra_env: Mapping[str, str] | None = None,
                    debug: bool = True,
                    workdir: Path | None = None,
                    keep_workdir: bool = False) -> Iterator[OctaviaService]:
    """Start a real Octavia on loopback; stop every process it started on exit.

    Nothing is left running and (unless ``workdir`` was given or
    ``keep_workdir``) no file is left.
    """
    venv = octavia_venv()
    own_dir = workdir is None
    path = Path(tempfile.mkdtemp(prefix="amphora-octavia-", dir=_work_root())) if own_dir \
        else Path(workdir)
    service = OctaviaService(workdir=path, venv=venv, compute_driver=compute_driver,
                             amphora_compute_config=amphora_compute_config,
                             extra_config=dict(extra_config or {}),
                             extra_env=dict(extra_env or {}), debug=debug)
    try:
        service.start()
        yield service
    finally:
        service.stop()
        if own_dir and not keep_workdir:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def private_workdir(prefix: str = "amphora-octavia-") -> Iterator[Path]:
    """A scratch directory Octavia's processes can see (outside /tmp); removed on exit.

    Files shared with Octavia (this project's config, the Noop state file) go here.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=_work_root()))
    try:
        yield path
    finally:
        if os.environ.get(KEEP_ENV):
            print(f"kept {path} ({KEEP_ENV} is set)", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def noop_amphora_compute_config(path: Path, state_file: Path | None, *,
                                backends: Mapping[str, Mapping[str, Any]] | None = None,
                                octavia: str = "") -> Path:
    """This project's config: every type on its Noop backend sharing ``state_file``.

    ``state_file`` None keeps each process's Noop state in memory.  ``backends``
    adds knobs per Noop backend; ``octavia`` is the ``[octavia]`` part, as TOML text.
    """
    lines: list[str] = []
    for name in ("noop-vm", "noop-container", "noop-baremetal", "noop-hardware-lb"):
        shared = {"state_file": str(state_file)} if state_file is not None else {}
        options = {**shared, **(backends or {}).get(name, {})}
        lines.append(f'[backends."{name}"]')
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in options.items())
        lines.append("")
    path.write_text("\n".join(lines) + "\n" + octavia)
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.services.octavia``: run Octavia in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compute-driver", default=ADAPTER_DRIVER,
                        help=f"{ADAPTER_DRIVER} (default) or {OCTAVIA_NOOP_DRIVER}")
    parser.add_argument("--config", type=Path, default=None,
                        help="amphora-compute config (default: every type on Noop, "
                             "state shared through a file in the work directory)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    print("preparing Octavia's venv (cached after the first run)...", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="amphora-octavia-", dir=_work_root()))
    config = args.config
    if config is None and args.compute_driver == ADAPTER_DRIVER:
        config = noop_amphora_compute_config(workdir / "amphora-compute.toml",
                                             workdir / "noop-state.json",
                                             octavia='[octavia]\ndefault_type = "vm"\n')
    try:
        with octavia_service(compute_driver=args.compute_driver,
                             amphora_compute_config=config, workdir=workdir) as service:
            print(f"Octavia is up: {service.url}  (noauth: put project_id in the body)")
            print(f"compute_driver = {service.compute_driver}; amphora-compute config {config}")
            print(f"workdir {service.workdir} (logs: octavia-api.log, octavia-worker.log); "
                  "Ctrl-C to stop", flush=True)
            assert service.api is not None and service.worker is not None
            exited = serve_until_stopped(service.api, service.worker)
            if exited is not None:
                print(f"{exited.name} exited:\n{exited.log_tail()}", file=sys.stderr)
                return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
