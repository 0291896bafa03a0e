"""A real Octavia 19 controller using this project as its compute driver.

``octavia-api`` and ``octavia-worker`` (v2 flows, jobboard off) run from their
own cached venv (``tests/services/octavia.py``) with ``compute_driver =
amphora_compute``; everything is driven through Octavia's v2 REST API, and
what the backends hold is checked through this project's own ``Dispatcher``
reading the same Noop state file as Octavia's processes.

One Octavia serves every Noop test; the Noop backends carry the faults:

* ``noop-vm`` (compute flavor ``amp-vm``, the default type): healthy, with
  server groups and ports; its backend flavors are ``m1.amphora`` only and
  its zones ``az-vm`` only, so backend-side validation is exercised;
* ``noop-container`` (``amp-container``, zone ``edge``): healthy, no server groups;
* ``noop-baremetal`` (``amp-bm-error``): every amphora goes to ERROR;
* ``noop-hardware-lb`` (``amp-hw``): the first build fails, later amphorae never
  become ACTIVE (Octavia's retries are 5 x 1 s here, so this ends fast).

The bare-metal test on the real standalone Ironic runs its own Octavia.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from amphora_compute.config import load_config
from amphora_compute.dispatcher import Dispatcher
from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.models import Amphora
from tests.services._proc import unavailable
from tests.services.octavia import (
    AMP_ACTIVE_RETRIES,
    OctaviaError,
    OctaviaService,
    noop_amphora_compute_config,
    octavia_service,
    octavia_venv,
    private_tmp_prefix,
    private_workdir,
)

pytestmark = pytest.mark.functional

OCTAVIA_SECTION = textwrap.dedent('''
    [octavia]
    default_type = "vm"

    [octavia.flavors."amp-vm"]
    type = "vm"
    flavor = "m1.amphora"

    [octavia.flavors."amp-vm-missing"]
    type = "vm"
    flavor = "m1.missing"

    [octavia.flavors."amp-container"]
    type = "container"
    flavor = "c1.amphora"

    [octavia.flavors."amp-bm-error"]
    type = "baremetal"
    flavor = "bm.amphora"

    [octavia.flavors."amp-hw"]
    type = "hardware_lb"
    flavor = "slot"

    [octavia.availability_zones."edge"]
    type = "container"
    zone = "edge-zone"
    ''')

NOOP_KNOBS: dict[str, dict[str, Any]] = {
    "noop-vm": {"flavors": ["m1.amphora"], "availability_zones": ["az-vm"]},
    "noop-container": {},
    "noop-baremetal": {"build_outcome": "error", "build_fault": "injected: deploy failed"},
    "noop-hardware-lb": {"fail_build_nth": 1, "build_outcome": "never_active"},
}
#: Octavia reads the config named in octavia.conf; this bogus variable must lose.
BOGUS_ENV = {"AMPHORA_COMPUTE_CONFIG": "/nonexistent/amphora-compute.toml"}
ACTIVE_TIMEOUT = 60.0
#: Never-ACTIVE ends after Octavia's retries (5 x 1 s) plus the revert.
FAULT_TIMEOUT = 60.0 + AMP_ACTIVE_RETRIES


@dataclass
class OctaviaRun:
    """A running Octavia plus this project's view of the same backends."""

    octavia: OctaviaService
    config_path: Path
    state_file: Path
    dispatcher: Dispatcher
    flavors: dict[str, str]

    def backend_amphorae(self, amphora_type: AmphoraType) -> list[Amphora]:
        return self.dispatcher.list(amphora_type)

    def backend_amphora_for(self, octavia_amphora: dict[str, Any]) -> Amphora | None:
        """The backend's record of one Octavia amphora (Octavia names it amphora-<id>)."""
        name = f"amphora-{octavia_amphora['id']}"
        for amphora in self.dispatcher.list():
            if amphora.name == name:
                return amphora
        return None

    def backend_names(self) -> set[str]:
        return {a.name or "" for a in self.dispatcher.list()}

    def noop_state(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.state_file.read_text())
        return result

    def create_active(self, name: str, **fields: Any) -> dict[str, Any]:
        lb = self.octavia.create_load_balancer(name, **fields)
        return self.octavia.wait_load_balancer(lb["id"], ["ACTIVE", "ERROR"],
                                               timeout=ACTIVE_TIMEOUT)

    def delete(self, lb_id: str) -> None:
        self.octavia.delete_load_balancer(lb_id, cascade=True)
        self.octavia.wait_deleted(lb_id, timeout=ACTIVE_TIMEOUT)


@pytest.fixture(scope="module")
def run() -> Iterator[OctaviaRun]:
    """One Octavia with compute_driver = amphora_compute over the four Noop backends."""
    try:
        with private_workdir() as workdir:
            state = workdir / "noop-state.json"
            config = noop_amphora_compute_config(workdir / "amphora-compute.toml", state,
                                                 backends=NOOP_KNOBS, octavia=OCTAVIA_SECTION)
            with octavia_service(amphora_compute_config=config, extra_env=BOGUS_ENV,
                                 workdir=workdir / "octavia") as octavia:
                dispatcher = Dispatcher(load_config(config))
                flavors = {
                    "vm": octavia.create_flavor("vm", {"compute_flavor": "amp-vm"}),
                    "container": octavia.create_flavor(
                        "container", {"compute_flavor": "amp-container"}),
                    "vm-ha": octavia.create_flavor("vm-ha", {
                        "compute_flavor": "amp-vm", "loadbalancer_topology": "ACTIVE_STANDBY"}),
                    "container-ha": octavia.create_flavor("container-ha", {
                        "compute_flavor": "amp-container",
                        "loadbalancer_topology": "ACTIVE_STANDBY"}),
                    "bm-error": octavia.create_flavor("bm-error",
                                                      {"compute_flavor": "amp-bm-error"}),
                    "hw": octavia.create_flavor("hw", {"compute_flavor": "amp-hw"}),
                }
                try:
                    yield OctaviaRun(octavia, config, state, dispatcher, flavors)
                finally:
                    dispatcher.close()
    except (OSError, subprocess.SubprocessError, OctaviaError, TimeoutError) as exc:
        unavailable(f"Octavia did not start: {exc}")


def _amphorae(run: OctaviaRun, lb_id: str) -> list[dict[str, Any]]:
    return [a for a in run.octavia.amphorae(lb_id) if a["status"] != "DELETED"]


# -- the happy paths ------------------------------------------------------------------


def test_single_load_balancer_active_then_cascade_deleted(run: OctaviaRun) -> None:
    lb = run.create_active("single", flavor_id=run.flavors["vm"])
    assert lb["provisioning_status"] == "ACTIVE"
    [amp] = _amphorae(run, lb["id"])
    backend = run.backend_amphora_for(amp)
    assert backend is not None and backend.amphora_type is AmphoraType.VM
    assert backend.status is AmphoraStatus.ACTIVE
    assert backend.id == amp["compute_id"]
    assert backend.flavor == "m1.amphora"          # the mapping's backend flavor
    assert amp["lb_network_ip"] == backend.management_address
    assert amp["compute_flavor"] == "m1.amphora"

    run.delete(lb["id"])
    assert backend.name not in run.backend_names()
    assert run.dispatcher.statuses([backend.id])[backend.id].status is AmphoraStatus.DELETED


def test_active_standby_with_anti_affinity(run: OctaviaRun) -> None:
    lb = run.create_active("ha", flavor_id=run.flavors["vm-ha"])
    assert lb["provisioning_status"] == "ACTIVE"
    amps = _amphorae(run, lb["id"])
    assert sorted(a["role"] for a in amps) == ["BACKUP", "MASTER"]
    backends = [run.backend_amphora_for(a) for a in amps]
    assert all(b is not None and b.status is AmphoraStatus.ACTIVE for b in backends)
    groups = {b.extra["server_group"] for b in backends if b is not None}
    assert len(groups) == 1 and None not in groups, groups
    [group_id] = groups
    group = run.noop_state()["noop-vm"]["server_groups"][group_id]
    assert group["policy"] == "anti-affinity"
    assert group["name"] == f"octavia-lb-{lb['id']}"
    assert sorted(group["members"]) == sorted(b.id for b in backends if b is not None)

    run.delete(lb["id"])
    assert group_id not in run.noop_state()["noop-vm"]["server_groups"]
    assert not {b.name for b in backends if b is not None} & run.backend_names()


def test_failover_replaces_the_amphora(run: OctaviaRun) -> None:
    lb = run.create_active("failover", flavor_id=run.flavors["vm"])
    [old] = _amphorae(run, lb["id"])
    old_backend = run.backend_amphora_for(old)
    assert old_backend is not None

    # The API marks the LB PENDING_UPDATE before it answers, so ACTIVE means done.
    run.octavia.failover_load_balancer(lb["id"])
    lb = run.octavia.wait_load_balancer(lb["id"], ["ACTIVE", "ERROR"], timeout=ACTIVE_TIMEOUT)
    assert lb["provisioning_status"] == "ACTIVE"
    [new] = _amphorae(run, lb["id"])
    assert new["id"] != old["id"] and new["compute_id"] != old["compute_id"]
    new_backend = run.backend_amphora_for(new)
    assert new_backend is not None and new_backend.status is AmphoraStatus.ACTIVE
    # The failover flow attached the VIP base port through attach_network_or_port.
    assert [p["port_id"] for p in new_backend.extra["ports"]] == [new["vrrp_port_id"]]
    # ... and deleted the old amphora on the backend.
    assert run.dispatcher.statuses([old_backend.id])[old_backend.id].status \
        is AmphoraStatus.DELETED

    run.delete(lb["id"])
    assert new_backend.name not in run.backend_names()


def test_two_flavors_two_amphora_types_in_one_run(run: OctaviaRun) -> None:
    vm_lb = run.octavia.create_load_balancer("two-vm", flavor_id=run.flavors["vm"])
    ct_lb = run.octavia.create_load_balancer("two-ct", flavor_id=run.flavors["container"])
    for lb in (vm_lb, ct_lb):
        done = run.octavia.wait_load_balancer(lb["id"], ["ACTIVE", "ERROR"],
                                              timeout=ACTIVE_TIMEOUT)
        assert done["provisioning_status"] == "ACTIVE", done
    [vm_amp] = _amphorae(run, vm_lb["id"])
    [ct_amp] = _amphorae(run, ct_lb["id"])
    vm_backend, ct_backend = run.backend_amphora_for(vm_amp), run.backend_amphora_for(ct_amp)
    assert vm_backend is not None and vm_backend.backend == "noop-vm"
    assert ct_backend is not None and ct_backend.backend == "noop-container"
    assert ct_backend.amphora_type is AmphoraType.CONTAINER
    assert ct_backend.flavor == "c1.amphora"
    assert ct_backend.image == "tag:amphora"      # Octavia's amp_image_tag, passed through

    for lb in (vm_lb, ct_lb):
        run.delete(lb["id"])
    assert not {vm_backend.name, ct_backend.name} & run.backend_names()


def test_availability_zone_maps_to_a_type_and_a_backend_zone(run: OctaviaRun) -> None:
    run.octavia.create_availability_zone("edge", {"compute_zone": "edge"})
    lb = run.create_active("edge", availability_zone="edge")
    assert lb["provisioning_status"] == "ACTIVE"
    [amp] = _amphorae(run, lb["id"])
    backend = run.backend_amphora_for(amp)
    assert backend is not None and backend.amphora_type is AmphoraType.CONTAINER
    assert backend.availability_zone == "edge-zone"
    assert amp["cached_zone"] == "edge-zone"
    run.delete(lb["id"])


# -- validation at profile creation ---------------------------------------------------


def test_unmapped_compute_flavor_is_refused_when_the_profile_is_made(run: OctaviaRun) -> None:
    with pytest.raises(OctaviaError) as caught:
        run.octavia.create_flavor("nope", {"compute_flavor": "not-mapped"})
    # Octavia wraps any compute-driver error in ProviderDriverError (HTTP 500), as with Nova's.
    assert caught.value.status == 500
    assert "not-mapped" in str(caught.value) and "octavia.flavors" in str(caught.value)


def test_mapped_flavor_missing_on_the_backend_is_refused(run: OctaviaRun) -> None:
    with pytest.raises(OctaviaError) as caught:
        run.octavia.create_flavor("missing", {"compute_flavor": "amp-vm-missing"})
    assert "m1.missing" in str(caught.value)


def test_availability_zone_is_validated_on_the_backend(run: OctaviaRun) -> None:
    run.octavia.create_availability_zone("az-ok", {"compute_zone": "az-vm"})
    with pytest.raises(OctaviaError) as caught:
        run.octavia.create_availability_zone("az-bad", {"compute_zone": "az-nowhere"})
    assert "az-nowhere" in str(caught.value)


# -- faults end with the LB in ERROR and nothing left on the backend ----------------------


def _assert_error_and_nothing_left(run: OctaviaRun, lb_id: str,
                                   amphora_type: AmphoraType) -> None:
    lb = run.octavia.wait_load_balancer(lb_id, ["ACTIVE", "ERROR"], timeout=FAULT_TIMEOUT)
    assert lb["provisioning_status"] == "ERROR", lb
    # Octavia's revert deleted what it built (or nothing was built).
    octavia_names = {f"amphora-{a['id']}" for a in run.octavia.amphorae(lb_id)}
    left = [a for a in run.backend_amphorae(amphora_type) if a.name in octavia_names]
    assert left == [], left
    run.delete(lb_id)


def test_amphora_in_error_reverts_and_deletes(run: OctaviaRun) -> None:
    builds_before = run.noop_state().get("noop-baremetal", {}).get("builds", 0)
    lb = run.octavia.create_load_balancer("fault-error", flavor_id=run.flavors["bm-error"])
    _assert_error_and_nothing_left(run, lb["id"], AmphoraType.BAREMETAL)
    # It was really built (then reverted), not refused up front.
    assert run.noop_state()["noop-baremetal"]["builds"] == builds_before + 1
    assert "injected: deploy failed" in run.octavia.worker_log_text()


def test_build_failure_then_never_active(run: OctaviaRun) -> None:
    """noop-hardware-lb fails its first build; later amphorae never become ACTIVE."""
    assert run.noop_state().get("noop-hardware-lb", {}).get("builds", 0) == 0
    failed = run.octavia.create_load_balancer("fault-build", flavor_id=run.flavors["hw"])
    _assert_error_and_nothing_left(run, failed["id"], AmphoraType.HARDWARE_LB)
    assert "build #1 failed (fail_build_nth)" in run.octavia.worker_log_text()

    stuck = run.octavia.create_load_balancer("fault-never", flavor_id=run.flavors["hw"])
    _assert_error_and_nothing_left(run, stuck["id"], AmphoraType.HARDWARE_LB)
    assert run.noop_state()["noop-hardware-lb"]["builds"] == 2
    assert run.backend_amphorae(AmphoraType.HARDWARE_LB) == []


def test_server_group_on_a_backend_without_them_is_refused_and_logged(
        run: OctaviaRun) -> None:
    lb = run.octavia.create_load_balancer("ha-container",
                                          flavor_id=run.flavors["container-ha"])
    _assert_error_and_nothing_left(run, lb["id"], AmphoraType.CONTAINER)
    log = run.octavia.worker_log_text()
    assert f"server group octavia-lb-{lb['id']} not supported for container amphorae" in log
    assert "create_server_group is not supported by the 'noop-container' driver" in log


def test_config_precedence_octavia_option_wins_over_environment(run: OctaviaRun) -> None:
    """Octavia runs with AMPHORA_COMPUTE_CONFIG pointing nowhere; builds still work."""
    assert BOGUS_ENV["AMPHORA_COMPUTE_CONFIG"] not in run.octavia.worker_log_text()
    assert f"amphora-compute for Octavia: config {run.config_path}" in \
        run.octavia.worker_log_text()


# -- the adapter's own parsing, inside Octavia's venv -------------------------------------

_PARSING_SCRIPT = r'''
import json, sys
from amphora_compute.errors import ConfigError, InvalidRequestError
from amphora_compute.octavia import OctaviaSettings

def error(raw):
    try:
        OctaviaSettings.from_raw(raw)
    except ConfigError as exc:
        return str(exc)
    return None

out = {
    "unknown_top": error({"octavia": {"default_typ": "vm"}}),
    "bad_type": error({"octavia": {"flavors": {"f": {"type": "mainframe"}}}}),
    "unknown_flavor_key": error({"octavia": {"flavors": {"f": {"type": "vm", "size": 1}}}}),
    "bad_zone": error({"octavia": {"availability_zones": {"z": {"zone": ""}}}}),
}
settings = OctaviaSettings.from_raw({"octavia": {
    "default_type": "container",
    "flavors": {"bm": {"type": "baremetal", "flavor": "rc-amphora"}, "plain": {}},
    "availability_zones": {"rack": {"type": "hardware_lb"}, "az1": {"zone": "backend-az1"}}}})
def resolve(flavor, zone):
    try:
        p = settings.resolve(flavor, zone)
        return [p.amphora_type.value, p.flavor, p.availability_zone]
    except InvalidRequestError as exc:
        return "error: " + str(exc)
out["resolve"] = {
    "bm": resolve("bm", None), "plain": resolve("plain", None), "none": resolve(None, None),
    "zone_only": resolve(None, "rack"), "zone_rename": resolve("bm", "az1"),
    "unmapped": resolve("ghost", None), "conflict": resolve("bm", "rack"),
    "unmapped_zone": resolve(None, "elsewhere"),
}
print(json.dumps(out))
'''


def _run_in_octavia_venv(script: str, *args: str) -> dict[str, Any]:
    """Run ``script`` with Octavia's venv (octavia and this project importable); its JSON."""
    try:
        venv = octavia_venv()
    except (OSError, subprocess.SubprocessError, OctaviaError) as exc:
        unavailable(f"Octavia's venv: {exc}")
    with private_workdir("amphora-octavia-script-") as workdir:
        result = subprocess.run(
            [*private_tmp_prefix(workdir), str(venv / "bin" / "python"), "-c", script, *args],
            capture_output=True, text=True, timeout=180, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_octavia_section_parsing_and_resolution_in_octavias_venv() -> None:
    out = _run_in_octavia_venv(_PARSING_SCRIPT)
    assert "octavia: unknown key(s) ['default_typ']" in out["unknown_top"]
    assert out["bad_type"].startswith('octavia.flavors."f".type:')
    assert "octavia.flavors.\"f\": unknown key(s) ['size']" in out["unknown_flavor_key"]
    assert out["bad_zone"].startswith('octavia.availability_zones."z".zone:')
    resolved = out["resolve"]
    assert resolved["bm"] == ["baremetal", "rc-amphora", None]
    assert resolved["plain"] == ["container", "plain", None]    # type and flavor default
    assert resolved["none"] == ["container", None, None]
    assert resolved["zone_only"] == ["hardware_lb", None, "rack"]
    assert resolved["zone_rename"] == ["baremetal", "rc-amphora", "backend-az1"]
    assert resolved["unmapped"].startswith("error: amphora_flavor:")
    assert 'octavia.flavors."ghost"' in resolved["unmapped"]
    assert resolved["conflict"].startswith("error: availability_zone:")
    assert resolved["unmapped_zone"] == ["container", None, "elsewhere"]


_DRIVER_SCRIPT = r'''
import json, sys, uuid
from oslo_config import cfg
from octavia.common import config as octavia_config  # registers Octavia's options
from octavia.common import constants, exceptions
cfg.CONF([], project="octavia", default_config_files=[])
import amphora_compute.octavia as adapter
adapter.config_path()
cfg.CONF.set_override("config_file", sys.argv[1], group="amphora_compute")

def build(driver, name, flavor):
    return driver.build(
        name=name, amphora_flavor=flavor, image_tag="amphora", image_owner="",
        key_name=None, sec_groups=["sg-1"], network_ids=["net-1"], port_ids=["port-1"],
        config_drive_files={"/etc/octavia/amphora-agent.conf": "x" * 2048},
        user_data="#cloud-config\n", server_group_id=None,
        availability_zone={constants.COMPUTE_ZONE: "az-vm"})

def raises(func, *args):
    try:
        func(*args)
    except Exception as exc:
        return type(exc).__name__ + ": " + str(exc)
    return None

out = {}
first, second = adapter.AmphoraComputeOctaviaDriver(), adapter.AmphoraComputeOctaviaDriver()
out["shared"] = first._dispatcher is second._dispatcher
vm_id = build(first, "amphora-vm", "amp-vm")
amp, fault = second.get_amphora(vm_id, "net-1")
out["vm"] = [amp.compute_id == vm_id, amp.status, amp.compute_flavor, amp.cached_zone,
             amp.image_id, bool(amp.lb_network_ip), fault, second.status(vm_id)]
flaky_id = build(first, "amphora-flaky", "amp-flaky")
amp, fault = first.get_amphora(flaky_id)
out["flaky"] = [amp.status, fault]
first.delete(flaky_id)
first.delete(flaky_id)
out["gone"] = raises(first.get_amphora, flaky_id)
out["unknown_delete"] = raises(first.delete, str(uuid.uuid4()))
out["unmapped_build"] = raises(build, first, "amphora-x", "not-mapped")
out["unmapped_validate"] = raises(first.validate_flavor, "not-mapped")
out["validate_ok"] = raises(first.validate_flavor, "amp-vm")
out["validate_backend"] = raises(first.validate_flavor, "amp-vm-missing")
group = first.create_server_group("octavia-lb-" + str(uuid.uuid4()), "anti-affinity")
out["group"] = bool(group.id)
out["group_delete_failure_object"] = raises(first.delete_server_group, object())
out["group_delete"] = raises(first.delete_server_group, group.id)
out["group_delete_again"] = raises(first.delete_server_group, group.id)
iface = first.attach_network_or_port(vm_id, port_id="port-9")
out["attach"] = [iface.port_id, iface.compute_id == vm_id]
out["detach"] = raises(first.detach_port, vm_id, "port-9")
container_id = build(first, "amphora-ct", "amp-ct")
out["attach_unsupported"] = raises(first.attach_network_or_port, container_id, None, None, "p")
first.delete(vm_id)
out["attach_gone"] = raises(first.attach_network_or_port, vm_id, None, None, "p")
out["detach_gone"] = raises(first.detach_port, vm_id, "p")
print(json.dumps(out))
'''


def test_driver_calls_as_octavia_makes_them_in_octavias_venv() -> None:
    """Every ComputeBase method, called as Octavia's tasks call it, with real octavia imported."""
    with private_workdir("amphora-octavia-cfg-") as workdir:
        config = noop_amphora_compute_config(
            workdir / "amphora-compute.toml", None,
            backends={"noop-vm": {"flavors": ["m1.amphora"], "availability_zones": ["az-vm"]},
                      "noop-container": {"failure_rate": 1.0,
                                         "fail_operations": ["get_amphora"]}},
            octavia=OCTAVIA_SECTION + textwrap.dedent('''
                [octavia.flavors."amp-flaky"]
                type = "container"
                [octavia.flavors."amp-ct"]
                type = "container"
                '''))
        out = _run_in_octavia_venv(_DRIVER_SCRIPT, str(config))
    assert out["shared"] is True
    assert out["vm"] == [True, "ACTIVE", "m1.amphora", "az-vm", "tag:amphora", True, None, "UP"]
    # A backend failing its GETs: keep polling (UNKNOWN), no revert yet.
    status, fault = out["flaky"]
    assert status == "UNKNOWN" and "injected failure in get_amphora" in fault
    assert out["gone"].startswith("ComputeGetException")
    assert out["unknown_delete"] is None
    assert out["unmapped_build"].startswith("ComputeBuildException")
    assert 'octavia.flavors."not-mapped"' in out["unmapped_build"]
    assert out["unmapped_validate"].startswith("InvalidSubresource")
    assert out["validate_ok"] is None
    assert out["validate_backend"].startswith("InvalidSubresource") \
        and "m1.missing" in out["validate_backend"]
    assert out["group"] is True
    assert out["group_delete_failure_object"] is None
    assert out["group_delete"] is None and out["group_delete_again"] is None
    assert out["attach"] == ["port-9", True]
    assert out["detach"] is None
    assert out["attach_unsupported"].startswith("NotImplementedError")
    assert out["attach_gone"].startswith("NotFound") and "Instance" in out["attach_gone"]
    assert out["detach_gone"] is None


# -- a real backend: bare metal on the standalone Ironic ----------------------------------

IRONIC_POOL = "amphora-octavia"
IRONIC_IMAGE_URL = "http://127.0.0.1:9/amphora-x64-haproxy.qcow2"


def test_bare_metal_load_balancer_on_real_ironic() -> None:
    """Octavia creates and deletes a load balancer whose amphora is an Ironic node."""
    try:
        from tests.services.ironic import IronicError, ironic_service
    except ImportError as exc:
        unavailable(f"tests.services.ironic: {exc}")
    try:
        ironic_cm = ironic_service(2, resource_class=IRONIC_POOL)
        ironic = ironic_cm.__enter__()
    except (OSError, subprocess.SubprocessError, IronicError, TimeoutError) as exc:
        unavailable(f"standalone Ironic did not start: {exc}")
    try:
        _bare_metal_load_balancer(ironic)
    finally:
        ironic_cm.__exit__(None, None, None)


def _bare_metal_load_balancer(ironic: Any) -> None:
    config_text = textwrap.dedent(f'''
        [types]
        baremetal = "ironic"

        [backends.ironic]
        endpoint = "{ironic.endpoint}"
        auth_type = "none"
        timeout = 10.0
        resource_class = "{IRONIC_POOL}"

        [[backends.ironic.images]]
        id = "amphora-bm-image"
        source = "{IRONIC_IMAGE_URL}"
        checksum = "{'0' * 32}"
        tags = ["amphora"]

        [octavia]
        default_type = "baremetal"

        [octavia.flavors."amp-bm"]
        type = "baremetal"
        flavor = "{IRONIC_POOL}"
        ''')
    with private_workdir() as workdir:
        config = workdir / "amphora-compute.toml"
        config.write_text(config_text)
        dispatcher = Dispatcher(load_config(config))
        # Standalone Ironic has no Neutron: no boot network, so no network_ids.
        extra = {"controller_worker": {"amp_boot_network_list": ""}}
        try:
            octavia_cm = octavia_service(amphora_compute_config=config, extra_config=extra,
                                         workdir=workdir / "octavia")
            octavia = octavia_cm.__enter__()
        except (OSError, subprocess.SubprocessError, OctaviaError, TimeoutError) as exc:
            unavailable(f"Octavia did not start: {exc}")
        try:
            flavor = octavia.create_flavor("bm", {"compute_flavor": "amp-bm"})
            lb = octavia.create_load_balancer(f"bm-{uuid.uuid4().hex[:6]}", flavor_id=flavor)
            lb = octavia.wait_load_balancer(lb["id"], ["ACTIVE", "ERROR"], timeout=120)
            assert lb["provisioning_status"] == "ACTIVE", octavia.worker_log_text()[-3000:]
            [amp] = [a for a in octavia.amphorae(lb["id"]) if a["status"] != "DELETED"]
            backend = dispatcher.get_amphora(amphora_id=amp["compute_id"])
            assert backend.backend == "ironic" and backend.status is AmphoraStatus.ACTIVE
            assert backend.name == f"amphora-{amp['id']}"
            assert amp["compute_flavor"] == IRONIC_POOL       # the node's resource class
            node = ironic.node(backend.extra["node_uuid"])
            assert node["provision_state"] == "active"
            assert node["instance_uuid"] == amp["compute_id"]
            assert node["instance_info"]["image_source"] == IRONIC_IMAGE_URL

            octavia.delete_load_balancer(lb["id"], cascade=True)
            octavia.wait_deleted(lb["id"], timeout=120)
            assert dispatcher.statuses([backend.id])[backend.id].status \
                is AmphoraStatus.DELETED
            assert ironic.node(backend.extra["node_uuid"])["instance_uuid"] is None
        finally:
            dispatcher.close()
            octavia_cm.__exit__(None, None, None)

