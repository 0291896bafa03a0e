# ruff: noqa: F811 - pytest fixtures imported from tests.functional._hardware
"""The hardware driver against real OpenSSH sshd + HAProxy in network namespaces.

Runs as root: the driver's commands create namespaces, veths and HAProxy
processes on this machine, reached over a real SSH session on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from amphora_compute.drivers.hardware.sessions import Channel, HostKeyError
from amphora_compute.enums import AmphoraStatus
from amphora_compute.errors import (
    AmphoraBuildError,
    BackendUnavailableError,
    CircuitOpenError,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
)
from amphora_compute.models import BuildRequest
from amphora_compute.testing.contract import DriverContract, wait_for_status
from tests.functional._hardware import (  # noqa: F401 - fixtures
    DriverFactory,
    LinuxLab,
    linux_lab,
    make_driver,
    registry,
)
from tests.services import netns
from tests.services.sshd import SshServer, wait_for_logins

SECRET = "pl4nted-s3cret-9f1e"


class TestLinuxHaproxyContract(DriverContract):
    """The core's contract suite, unchanged, on two real Linux appliances."""

    @pytest.fixture
    def compute_driver(self, linux_lab: LinuxLab, make_driver: DriverFactory) -> Any:
        return make_driver([linux_lab.device("lb1"), linux_lab.device("lb2")])

    @pytest.fixture
    def amphora_request_factory(self, linux_lab: LinuxLab) -> Any:
        return lambda name, **overrides: linux_lab.request(name, **overrides)


def test_slot_serves_http_through_its_veth(linux_lab: LinuxLab,
                                           make_driver: DriverFactory) -> None:
    driver = make_driver([linux_lab.device("lb1")])
    amphora_id = driver.build(linux_lab.request("web-serves"))
    record = wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, 10)
    address = record.management_address
    assert address and address.startswith(linux_lab.net.prefix)
    slot = record.extra["slot"]
    assert slot in netns.netns_names()
    body = linux_lab.net.request(f"http://{address}/")
    assert linux_lab.net.token in body  # through HAProxy in the slot to the backend
    driver.suspend(amphora_id)
    assert driver.status(amphora_id) is AmphoraStatus.SUSPENDED
    driver.suspend(amphora_id)  # already suspended: still fine
    driver.resume(amphora_id)
    assert driver.status(amphora_id) is AmphoraStatus.ACTIVE
    with pytest.raises(NotSuspendedError):
        driver.resume(amphora_id)
    assert linux_lab.net.token in linux_lab.net.request(f"http://{address}/")
    driver.delete(amphora_id)
    assert slot not in netns.netns_names()
    assert not netns.link_exists(f"v{slot}")
    assert not netns.live_processes_mentioning(slot)
    assert linux_lab.slots_left("lb1") == []


def test_status_reads_the_process_state_not_kill_0(linux_lab: LinuxLab,
                                                   make_driver: DriverFactory) -> None:
    driver = make_driver([linux_lab.device("lb1")])
    amphora_id = driver.build(linux_lab.request("web-killed"))
    slot = amphora_id.split(":")[1]
    pid = int((linux_lab.state_dir("lb1") / slot / "haproxy.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)  # it lingers as a zombie until PID 1 reaps it
    record = wait_for_status(driver, amphora_id, AmphoraStatus.ERROR, 10)
    assert record.raw_status == "down" and record.fault
    driver.delete(amphora_id)
    assert linux_lab.slots_left("lb1") == []


@pytest.mark.parametrize("case", ["config-check-fails", "bridge-missing"])
def test_a_build_failing_half_way_leaves_nothing_behind(linux_lab: LinuxLab,
                                                        make_driver: DriverFactory,
                                                        case: str) -> None:
    if case == "config-check-fails":  # haproxy -c refuses port 99999
        device = linux_lab.device("lb1")
        request = linux_lab.request("web-badcfg", metadata={"backends": "10.0.0.1:99999"})
    else:  # the namespace and veth exist when 'ip link set master' fails
        device = linux_lab.device("lb1", params={"bridge": "nosuchbr0"})
        request = linux_lab.request("web-nobridge")
    driver = make_driver([device])
    before = netns.netns_names()
    with pytest.raises(AmphoraBuildError) as info:
        driver.build(request)
    assert "rolled back" in str(info.value) and info.value.fault
    assert netns.netns_names() == before
    assert linux_lab.slots_left("lb1") == []
    assert driver.list() == []


@pytest.mark.parametrize("attempt", [
    {"metadata": {"backends": "10.0.0.1:80; reboot"}},
    {"metadata": {"backends": "$(id)"}},
    {"metadata": {"listen_port": "80`id`"}},
    {"metadata": {"listen_port": "80\nbind *:1"}},
    {"availability_zone": "$(id)"},
], ids=["backends-semicolon", "backends-subst", "port-backtick", "port-newline", "az"])
def test_injection_in_a_build_is_refused_before_any_connection(
        linux_lab: LinuxLab, make_driver: DriverFactory, attempt: dict[str, Any]) -> None:
    server = linux_lab.servers["lb1"]
    logins = server.logins()
    driver = make_driver([linux_lab.device("lb1")])
    with pytest.raises(InvalidRequestError) as info:
        driver.build(linux_lab.request("web-inject", **attempt))
    assert info.value.field
    assert driver.ex_connections("lb1") == 0
    wait_for_logins(server, logins + 1, timeout=0.3)
    assert server.logins() == logins


def test_injection_in_ids_and_names_never_reaches_a_device(
        linux_lab: LinuxLab, make_driver: DriverFactory) -> None:
    driver = make_driver([linux_lab.device("lb1")])
    for bad in ("lb1:a; reboot", "lb1:$(id)", "lb1:amp`id`xxxxx", "lb1:ampxx;rebootx",
                "lb1:../../etc"):
        with pytest.raises(InstanceNotFoundError):
            driver.status(bad)
        with pytest.raises(InstanceNotFoundError):
            driver.suspend(bad)
        driver.delete(bad)  # not ours: nothing to delete
        assert driver.statuses([bad])[bad].status is AmphoraStatus.DELETED
    for bad_name in ("a; reboot", "$(id)"):
        with pytest.raises(InvalidRequestError):
            driver.get_amphora(amphora_name=bad_name)
    for bad_request in ({"name": "a; reboot"}, {"idempotency_key": "`id`"}):
        with pytest.raises(InvalidRequestError):
            BuildRequest(**{"name": "ok", **bad_request})
    assert driver.ex_connections("lb1") == 0


def test_statuses_cost_one_command_per_device(linux_lab: LinuxLab, make_driver: DriverFactory,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    driver = make_driver([linux_lab.device("lb1"), linux_lab.device("lb2")])
    ids = [driver.build(linux_lab.request(f"web-batch-{i}")) for i in range(4)]
    assert {i.split(":")[0] for i in ids} == {"lb1", "lb2"}  # the scheduler spreads them
    sent: list[str] = []
    original = Channel.send

    def counting(self: Channel, command: str, **kw: Any) -> str:
        sent.append(command)
        return original(self, command, **kw)

    monkeypatch.setattr(Channel, "send", counting)
    answer = driver.statuses([*ids, "lb1:ampnothere00", "lb2:ampnothere00"])
    assert len(sent) == 2
    assert all(answer[i].status is AmphoraStatus.ACTIVE for i in ids)
    assert answer["lb1:ampnothere00"].status is AmphoraStatus.DELETED


def test_scheduler_fills_the_least_loaded_and_says_why_when_full(
        linux_lab: LinuxLab, make_driver: DriverFactory) -> None:
    driver = make_driver([linux_lab.device("lb1", capacity=1),
                          linux_lab.device("lb2", capacity=1)])
    first = driver.build(linux_lab.request("web-cap-1"))
    second = driver.build(linux_lab.request("web-cap-2"))
    assert {first.split(":")[0], second.split(":")[0]} == {"lb1", "lb2"}
    with pytest.raises(AmphoraBuildError) as info:
        driver.build(linux_lab.request("web-cap-3"))
    assert "lb1: full (1/1)" in str(info.value) and "lb2: full (1/1)" in str(info.value)


def test_one_session_per_device_reused_across_threads(linux_lab: LinuxLab,
                                                      make_driver: DriverFactory) -> None:
    driver = make_driver([linux_lab.device("lb1")])
    amphora_id = driver.build(linux_lab.request("web-threads"))
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            for _ in range(5):
                assert driver.status(amphora_id) is AmphoraStatus.ACTIVE
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert driver.ex_connections("lb1") == 1


def test_idle_session_is_closed_and_reopened(linux_lab: LinuxLab,
                                             make_driver: DriverFactory) -> None:
    driver = make_driver([linux_lab.device("lb1")], idle_timeout=0.5)
    assert driver.list() == []
    session = driver.sessions["lb1"]
    deadline = time.monotonic() + 10
    while session.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not session.connected
    assert driver.list() == []
    assert driver.ex_connections("lb1") == 2


def test_a_dropped_session_is_reopened_for_reads(tmp_path: Path, linux_lab: LinuxLab,
                                                 make_driver: DriverFactory) -> None:
    server = SshServer(tmp_path / "sshd").start()
    try:
        driver = make_driver([linux_lab.device("lbx", server=None, **_own(server))])
        assert driver.list() == []
        server.stop()
        server.start()  # same port, same key: every old session is gone
        assert driver.list() == []
        assert driver.ex_connections("lbx") == 2
    finally:
        server.stop()


def test_sshd_killed_mid_build_opens_only_that_devices_breaker(
        tmp_path: Path, linux_lab: LinuxLab, make_driver: DriverFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    doomed = SshServer(tmp_path / "doomed").start()
    try:
        breakers = registry(fail_max=1)
        driver = make_driver([linux_lab.device("zdead", server=None, **_own(doomed)),
                              linux_lab.device("lb2", capacity=50)], breakers=breakers)
        # Ties go by name: lb2 gets the first amphora, so the empty "zdead" gets the next.
        kept = driver.build(linux_lab.request("web-survivor"))
        assert kept.startswith("lb2:")
        state = linux_lab.state_dir("zdead")
        result: dict[str, BaseException | str] = {}

        def build() -> None:
            try:
                result["id"] = driver.build(linux_lab.request("web-doomed"))
            except BaseException as exc:  # noqa: BLE001
                result["error"] = exc

        thread = threading.Thread(target=build)
        thread.start()
        deadline = time.monotonic() + 20
        while not (state.exists() and any(state.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.002)
        doomed.kill()  # mid-build: the slot directory exists, the rest does not yet
        thread.join(60)
        error = result.get("error")
        assert isinstance(error, BackendUnavailableError), result
        assert "zdead" in str(error)
        assert not breakers.is_closed("hardware:zdead")
        assert breakers.is_closed("hardware:lb2")
        with pytest.raises(CircuitOpenError):
            driver.status("zdead:ampzzzzzzzzz")
        survivor = driver.build(linux_lab.request("web-after"))
        assert survivor.startswith("lb2:")
        assert driver.statuses([survivor])[survivor].status is AmphoraStatus.ACTIVE
        assert "could not be rolled back" in caplog.text
    finally:
        doomed.stop()
        _clean_leftovers(linux_lab.state_dir("zdead"))


def test_unknown_and_changed_host_keys_are_refused(tmp_path: Path, linux_lab: LinuxLab,
                                                   make_driver: DriverFactory) -> None:
    server = SshServer(tmp_path / "keys").start()
    try:
        server.known_hosts.write_text("")
        driver = make_driver([linux_lab.device("hk", server=None, **_own(server))])
        with pytest.raises(HostKeyError, match="unknown"):
            driver.list()
        tofu = make_driver([linux_lab.device("hk", server=None, trust_on_first_use=True,
                                             **_own(server))])
        assert tofu.list() == []
        assert f"[127.0.0.1]:{server.port} ssh-ed25519" in server.known_hosts.read_text()
        server.restart_with_new_host_key()
        for trusting in (False, True):  # first use is over: a changed key is always refused
            fresh = make_driver([linux_lab.device("hk", server=None,
                                                  trust_on_first_use=trusting,
                                                  **_own(server))])
            with pytest.raises(HostKeyError, match="changed"):
                fresh.list()
            assert fresh.ex_connections("hk") == 0
    finally:
        server.stop()


def test_no_secret_in_logs_or_session_logs_and_files_arrive(
        tmp_path: Path, linux_lab: LinuxLab, make_driver: DriverFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logs = tmp_path / "session-logs"
    logs.mkdir()
    driver = make_driver([linux_lab.device("lb1")], session_log_dir=str(logs))
    amphora_id = driver.build(linux_lab.request(
        "web-secret", user_data=f"#!/bin/sh\necho {SECRET}\n".encode(),
        config_drive_files={"/etc/octavia/amphora-agent.conf": SECRET.encode()}))
    slot = amphora_id.split(":")[1]
    delivered = linux_lab.state_dir("lb1") / slot / "files" / "etc/octavia/amphora-agent.conf"
    assert delivered.read_text() == SECRET
    assert delivered.stat().st_mode & 0o077 == 0
    driver.statuses([amphora_id])
    driver.delete(amphora_id)
    driver.close()
    session_log = (logs / "lb1.log").read_text()
    assert "SLOT" in session_log  # the session log really recorded the session
    assert SECRET not in session_log
    assert SECRET not in caplog.text


def _own(server: SshServer) -> dict[str, Any]:
    """Connection settings of a test's own sshd (the lab's network and state dirs stay)."""
    return {"port": server.port, "key_file": str(server.client_key),
            "known_hosts": str(server.known_hosts)}


def _clean_leftovers(state: Path) -> None:
    """Remove what a killed device could not roll back (the test made it, the test cleans)."""
    if not state.exists():
        return
    for slot_dir in state.iterdir():
        slot = slot_dir.name
        for pid in netns.ip("netns", "pids", slot, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        netns.ip("link", "del", f"v{slot}", check=False)
        netns.ip("netns", "del", slot, check=False)
    shutil.rmtree(state, ignore_errors=True)
