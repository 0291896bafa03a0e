"""Configuration files of the Nova stack, written fresh into a run directory at each start.

Every path inside is relative to the run directory (each process runs with it
as its working directory), so that cached empty sqlite schemas stay valid
wherever the stack runs.  Ports are the ones picked for this run.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

#: Where keystonemiddleware's authtoken sat in each paste pipeline, and what replaces it.
AUTHTOKEN_FACTORY = "keystonemiddleware.auth_token:filter_factory"
NOAUTH_FACTORY = "ampstack_shim:noauth_filter_factory"

COMPUTE_HOSTS = ("amp-compute-1", "amp-compute-2")


@dataclass(frozen=True, slots=True)
class Ports:
    """The loopback ports of one stack run."""

    nova: int
    placement: int
    glance: int
    neutron: int
    amqp: int
    rabbit_dist: int
    epmd: int

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self, service)}"

    @property
    def transport_url(self) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.amqp}/"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _paste(src: Path, dst: Path) -> None:
    text = src.read_text()
    if AUTHTOKEN_FACTORY not in text:
        raise RuntimeError(f"{src}: no authtoken filter to replace (paste file changed?)")
    _write(dst, text.replace(AUTHTOKEN_FACTORY, NOAUTH_FACTORY))


def write_all(run: Path, venv: Path, ports: Ports) -> None:
    """Write nova, placement, glance, neutron and RabbitMQ configs under ``run/etc``."""
    etc = run / "etc"
    for sub in ("db", "state/nova", "state/neutron", "images", "staging", "tasks", "locks",
                "instances"):
        (run / sub).mkdir(parents=True, exist_ok=True)
    venv_etc = venv / "etc"
    _paste(venv_etc / "nova" / "api-paste.ini", etc / "nova" / "api-paste.ini")
    _paste(venv_etc / "glance" / "glance-api-paste.ini", etc / "glance" / "glance-api-paste.ini")
    _paste(venv_etc / "neutron" / "api-paste.ini", etc / "neutron" / "api-paste.ini")
    _nova(etc, ports)
    _placement(etc)
    _glance(etc)
    _neutron(etc, ports)
    _rabbit(run, ports)


def _nova(etc: Path, ports: Ports) -> None:
    _write(etc / "nova" / "nova.conf", f"""
        [DEFAULT]
        transport_url = {ports.transport_url}
        state_path = state/nova
        instances_path = instances
        compute_driver = fake.FakeDriver
        periodic_fuzzy_delay = 0
        my_ip = 127.0.0.1
        host = amp-controller
        use_syslog = false
        debug = false
        graceful_shutdown_timeout = 2

        [api]
        auth_strategy = keystone

        [wsgi]
        api_paste_config = {etc}/nova/api-paste.ini

        [api_database]
        connection = sqlite:///db/nova_api.sqlite

        [database]
        connection = sqlite:///db/nova_cell1.sqlite

        [conductor]
        workers = 1

        [scheduler]
        workers = 1
        # the scheduler maps new compute hosts itself, in-process (no nova-manage run)
        discover_hosts_in_cells_interval = 2

        [placement]
        auth_type = none
        endpoint_override = {ports.url("placement")}

        [glance]
        auth_type = none
        endpoint_override = {ports.url("glance")}

        [neutron]
        auth_type = none
        endpoint_override = {ports.url("neutron")}

        [cinder]
        auth_type = none

        [service_user]
        send_service_user_token = false

        [quota]
        instances = -1
        cores = -1
        ram = -1
        key_pairs = -1
        server_groups = -1
        server_group_members = -1
        # Nova counts an injected file's base64 text: 10 KiB (the spec's limit) is 13656.
        injected_file_content_bytes = 13656

        [oslo_messaging_notifications]
        driver = noop

        [oslo_messaging_rabbit]
        # RabbitMQ starts beside the services: retry every second, not 1, 3, 5, 7 s...
        rabbit_retry_interval = 1
        rabbit_retry_backoff = 0

        [oslo_concurrency]
        lock_path = locks

        [vnc]
        enabled = false

        [oslo_policy]
        enforce_scope = false
        enforce_new_defaults = false
        """)
    for host in COMPUTE_HOSTS:
        _write(etc / "nova" / f"{host}.conf", f"""
            [DEFAULT]
            host = {host}
            instances_path = instances/{host}
            """)


def _placement(etc: Path) -> None:
    _write(etc / "placement" / "placement.conf", """
        [api]
        auth_strategy = noauth2

        [placement_database]
        connection = sqlite:///db/placement.sqlite

        [oslo_policy]
        enforce_scope = false
        enforce_new_defaults = false
        """)


def _glance(etc: Path) -> None:
    _write(etc / "glance" / "glance-api.conf", f"""
        [DEFAULT]
        enabled_backends = fs:file
        enabled_import_methods = [glance-direct]
        show_image_direct_url = false
        debug = false

        [database]
        connection = sqlite:///db/glance.sqlite

        [paste_deploy]
        flavor = keystone
        config_file = {etc}/glance/glance-api-paste.ini

        [glance_store]
        default_backend = fs

        [fs]
        filesystem_store_datadir = images

        [os_glance_staging_store]
        filesystem_store_datadir = staging

        [os_glance_tasks_store]
        filesystem_store_datadir = tasks

        [oslo_policy]
        policy_file = policy.yaml
        enforce_scope = false
        enforce_new_defaults = false

        [oslo_concurrency]
        lock_path = locks
        """)
    _write(etc / "glance" / "policy.yaml", """
        "publicize_image": ""
        "communitize_image": ""
        """)


def _neutron(etc: Path, ports: Ports) -> None:
    _write(etc / "neutron" / "neutron.conf", f"""
        [DEFAULT]
        core_plugin = ml2
        service_plugins = router
        auth_strategy = keystone
        api_paste_config = {etc}/neutron/api-paste.ini
        transport_url = {ports.transport_url}
        state_path = state/neutron
        notify_nova_on_port_status_changes = false
        notify_nova_on_port_data_changes = false
        dhcp_agent_notification = false
        allow_overlapping_ips = true
        debug = false

        [database]
        connection = sqlite:///db/neutron.sqlite

        [quotas]
        quota_network = -1
        quota_subnet = -1
        quota_port = -1
        quota_router = -1
        quota_floatingip = -1
        quota_security_group = -1
        quota_security_group_rule = -1

        [oslo_concurrency]
        lock_path = locks

        [oslo_policy]
        enforce_scope = false
        enforce_new_defaults = false

        [nova]
        auth_type = none
        """)
    _write(etc / "neutron" / "plugins" / "ml2" / "ml2_conf.ini", """
        [ml2]
        type_drivers = local,flat
        tenant_network_types = local
        mechanism_drivers = ampstack_bind_any
        extension_drivers = port_security

        [ml2_type_flat]
        flat_networks = *

        [securitygroup]
        enable_security_group = true
        firewall_driver = noop
        """)


def _rabbit(run: Path, ports: Ports) -> None:
    rabbit = run / "rabbit"
    _write(rabbit / "rabbitmq.conf", f"""
        listeners.tcp.1 = 127.0.0.1:{ports.amqp}
        loopback_users.guest = true
        """)
    _write(rabbit / "enabled_plugins", "[].\n")
    home = rabbit / "home"
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / ".erlang.cookie"
    cookie.write_text(f"AMPNOVASTACK{ports.amqp}")
    cookie.chmod(0o400)


def rabbit_env(run: Path, ports: Ports) -> dict[str, str]:
    """RabbitMQ's own HOME, cookie, node name, epmd and ports: nothing shared with a system one."""
    rabbit = run / "rabbit"
    return {
        "HOME": str(rabbit / "home"),
        "ERL_EPMD_PORT": str(ports.epmd),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODENAME": f"ampnova{ports.amqp}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(ports.amqp),
        "RABBITMQ_DIST_PORT": str(ports.rabbit_dist),
        "RABBITMQ_MNESIA_BASE": str(rabbit / "mnesia"),
        "RABBITMQ_LOG_BASE": str(rabbit / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(rabbit / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(rabbit / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(rabbit / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(rabbit / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(rabbit / "rabbit.pid"),
        "RABBITMQ_PLUGINS_EXPAND_DIR": str(rabbit / "plugins-expand"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


def clouds_yaml(path: Path, cloud: str, ports: Ports) -> Path:
    """A clouds.yaml for the client: no Keystone, one endpoint override per service."""
    return _write(path, f"""
        clouds:
          {cloud}:
            auth_type: none
            auth:
              endpoint: {ports.url("nova")}/v2.1
            region_name: RegionOne
            api_timeout: 30
            compute_endpoint_override: {ports.url("nova")}/v2.1
            image_endpoint_override: {ports.url("glance")}
            network_endpoint_override: {ports.url("neutron")}
            placement_endpoint_override: {ports.url("placement")}
        """)
