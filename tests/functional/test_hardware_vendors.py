# ruff: noqa: F811 - pytest fixtures imported from tests.functional._hardware
"""The hardware driver against the emulated F5 tmsh, A10 ACOS and Citrix ADC CLIs.

netmiko's own device classes (``f5_tmsh``, ``a10``, ``netscaler``) log in over a
real SSH connection to the asyncssh emulator (tests/services/vendor_cli.py),
whose device state is what build / status / delete are checked against.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.errors import (
    AmphoraBuildError,
    AmphoraComputeError,
    BackendUnavailableError,
    InvalidRequestError,
)
from amphora_compute.models import BuildRequest
from amphora_compute.testing.contract import DriverContract
from tests.functional._hardware import (  # noqa: F401 - fixtures
    DriverFactory,
    VendorLab,
    make_driver,
    registry,
    vendor_lab,
)
from tests.services.vendor_cli import FAMILIES, GARBAGE

SECRET = "v3ndor-pa55word-7d2c"
#: The command that creates the amphora object inside a new partition, per family.
FIRST_OBJECT = r"^(create ltm virtual|slb virtual-server amphora \S|add lb vserver)"


def request(name: str, **overrides: Any) -> BuildRequest:
    overrides.setdefault("amphora_type", AmphoraType.HARDWARE_LB)
    return BuildRequest(name=name, **overrides)


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _calm_devices(vendor_lab: VendorLab) -> Any:
    """Every test starts with empty devices and no fault knob set."""
    for server in vendor_lab.servers.values():
        server.call(lambda d: (d.partitions.clear(), setattr(d, "garbage", 0),
                               setattr(d, "drop_on", None), setattr(d, "fail_on", None)))
    yield


class TestVendorContract(DriverContract):
    """The core's contract suite, unchanged, on each emulated vendor family."""

    @pytest.fixture
    def compute_driver(self, vendor_lab: VendorLab, make_driver: DriverFactory,
                       family: str) -> Any:
        return make_driver([vendor_lab.device(family)])

    @pytest.fixture
    def amphora_request_factory(self) -> Any:
        return request


def test_device_state_follows_the_lifecycle(vendor_lab: VendorLab, make_driver: DriverFactory,
                                            family: str) -> None:
    server = vendor_lab.servers[family]
    driver = make_driver([vendor_lab.device(family)])
    amphora_id = driver.build(request("web-state", idempotency_key="key-1"))
    slot = amphora_id.split(":")[1]
    part = server.call(lambda d: d.partitions.get(slot))
    assert part is not None and part.vs is not None and part.vs.enabled
    assert part.vs.description.strip('"') == "amp,web-state,key-1,1"  # the stored mapping
    if family == "a10-acos":
        assert len(slot) <= 14
    assert driver.status(amphora_id) is AmphoraStatus.ACTIVE
    driver.suspend(amphora_id)
    assert server.call(lambda d: d.partitions[slot].vs.enabled) is False
    assert driver.status(amphora_id) is AmphoraStatus.SUSPENDED
    driver.resume(amphora_id)
    assert server.call(lambda d: d.partitions[slot].vs.enabled) is True
    found = driver.get_amphora(amphora_name="web-state")
    assert (found.id, found.idempotency_key) == (amphora_id, "key-1")
    driver.delete(amphora_id)
    assert server.call(lambda d: slot in d.partitions) is False
    driver.delete(amphora_id)
    assert driver.statuses([amphora_id])[amphora_id].status is AmphoraStatus.DELETED


def test_garbage_output_is_an_error_quoting_it(vendor_lab: VendorLab,
                                               make_driver: DriverFactory,
                                               family: str) -> None:
    server = vendor_lab.servers[family]
    driver = make_driver([vendor_lab.device(family)])
    amphora_id = driver.build(request("web-garbage"))
    assert driver.status(amphora_id) is AmphoraStatus.ACTIVE  # the session is up
    server.call(lambda d: setattr(d, "garbage", 1))
    with pytest.raises(AmphoraComputeError) as info:
        driver.status(amphora_id)
    assert "unexpected output" in str(info.value)
    assert "soft lockup" in str(info.value)  # a short excerpt of what came back
    assert len(str(info.value)) < 400
    assert driver.status(amphora_id) is AmphoraStatus.ACTIVE  # one bad answer, no more


def test_garbage_during_a_build_rolls_the_slot_back(vendor_lab: VendorLab,
                                                    make_driver: DriverFactory,
                                                    family: str) -> None:
    server = vendor_lab.servers[family]
    driver = make_driver([vendor_lab.device(family)])
    driver.list()  # connect first: the garbage knob applies to the next command
    server.call(lambda d: setattr(d, "fail_on", FIRST_OBJECT))
    with pytest.raises(AmphoraBuildError) as info:
        driver.build(request("web-half"))
    assert "rolled back" in str(info.value) and "injected failure" in str(info.value)
    assert server.call(lambda d: dict(d.partitions)) == {}


def test_dropped_connection_mid_build_is_rolled_back_on_a_new_session(
        vendor_lab: VendorLab, make_driver: DriverFactory, family: str) -> None:
    server = vendor_lab.servers[family]
    driver = make_driver([vendor_lab.device(family)])
    server.call(lambda d: setattr(d, "drop_on", FIRST_OBJECT))
    with pytest.raises(BackendUnavailableError) as info:
        driver.build(request("web-drop"))
    assert "session failed" in str(info.value)
    server.call(lambda d: setattr(d, "drop_on", None))
    # The partition made before the drop was removed over a fresh session.
    assert server.call(lambda d: dict(d.partitions)) == {}
    assert driver.ex_connections(driver.config.devices[0].name) == 2


def test_a_dead_device_opens_its_breaker_and_the_other_keeps_building(
        vendor_lab: VendorLab, make_driver: DriverFactory) -> None:
    breakers = registry(fail_max=1)
    driver = make_driver([vendor_lab.device("f5-bigip", "bigip-a"),
                          vendor_lab.device("citrix-adc", "ns-b")], breakers=breakers)
    vendor_lab.servers["f5-bigip"].call(lambda d: setattr(d, "drop_on", r"^list"))
    first = driver.build(request("web-one"))
    assert first.startswith("ns-b:")
    assert not breakers.is_closed("hardware:bigip-a")
    vendor_lab.servers["f5-bigip"].call(lambda d: setattr(d, "drop_on", None))
    second = driver.build(request("web-two"))  # bigip-a is skipped while its breaker is open
    assert second.startswith("ns-b:")
    loads = {load.name: load for load in driver.ex_device_loads()}
    assert loads["bigip-a"].unavailable == "breaker open"


def test_password_from_the_environment_never_reaches_logs(
        vendor_lab: VendorLab, make_driver: DriverFactory, tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = vendor_lab.servers["citrix-adc"]
    server.call(lambda d: setattr(d, "password", SECRET))
    try:
        monkeypatch.setenv("AMPHORA_TEST_NS_PASSWORD", SECRET)
        entry = vendor_lab.device("citrix-adc", "ns-pw", password_env="AMPHORA_TEST_NS_PASSWORD")
        del entry["key_file"]
        logs = tmp_path / "logs"
        logs.mkdir()
        driver = make_driver([entry], session_log_dir=str(logs))
        amphora_id = driver.build(request("web-pw"))
        assert driver.status(amphora_id) is AmphoraStatus.ACTIVE
        driver.delete(amphora_id)
        driver.close()
        text = (logs / "ns-pw.log").read_text()
        assert "add ns partition" in text
        assert SECRET not in text and SECRET not in caplog.text
        assert SECRET not in repr(driver.config)
    finally:
        server.call(lambda d: setattr(d, "password", None))


def test_values_outside_the_family_patterns_never_reach_the_device(
        vendor_lab: VendorLab, make_driver: DriverFactory, family: str) -> None:
    server = vendor_lab.servers[family]
    before = server.device.connections
    driver = make_driver([vendor_lab.device(family)])
    if family != "a10-acos":
        with pytest.raises(InvalidRequestError, match="listen_port"):
            driver.build(request("web-x", metadata={"listen_port": "80; reboot"}))
    with pytest.raises(InvalidRequestError):
        driver.build(request("web-x", availability_zone="nowhere"))
    driver.delete(f"{driver.config.devices[0].name}:$(id)")
    assert server.device.connections == before
    assert GARBAGE  # (keeps the knob's text importable for readers)
