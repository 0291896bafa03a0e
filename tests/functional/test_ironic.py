"""The Ironic driver against a real, standalone Ironic (``tests/services/ironic.py``).

Ironic 39 runs from PyPI in its own cached venv with the fake-hardware type,
and the unmodified python-ironicclient talks to it over HTTP on loopback:
nothing here mocks the client library.  Pools of fake nodes are kept apart by
resource class, so each test claims only the nodes meant for it:

* ``amphora-bm`` (14 nodes): the contract suite and the ordinary tests;
* ``amphora-race`` (10 nodes): 20 concurrent builds against exactly 10 nodes;
* ``amphora-failpool`` (1 node, deploy interface ``amphora-fail``): a deploy
  that really fails in Ironic's conductor.

The kill/restart test runs its own Ironic, so the others never see it die.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amphora_compute.config import BreakerSettings, Config
from amphora_compute.dispatcher import Dispatcher
from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.errors import (
    AmphoraBuildError,
    BackendUnavailableError,
    CircuitOpenError,
    InstanceNotFoundError,
    InvalidRequestError,
)
from amphora_compute.models import BuildRequest, Flavor, ImageRef
from amphora_compute.testing.contract import DriverContract, wait_for_status
from tests.services._proc import free_port, unavailable, wait_until
from tests.services.ironic import (
    FAIL_DEPLOY_INTERFACE,
    FAIL_DEPLOY_MESSAGE,
    IronicError,
    IronicService,
    ironic_service,
)

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
MAIN_POOL = "amphora-bm"
RACE_POOL = "amphora-race"
FAIL_POOL = "amphora-failpool"
IMAGE_URL = "http://127.0.0.1:9/amphora-x64-haproxy.qcow2"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAmphoraTestKeyOnly amphora@test"


@pytest.fixture(scope="session")
def ironic() -> Iterator[IronicService]:
    """One standalone Ironic for the session, with the three pools enrolled."""
    try:
        with ironic_service(14, resource_class=MAIN_POOL) as service:
            service.enroll(10, resource_class=RACE_POOL, name_prefix="race")
            [failing] = service.enroll(1, resource_class=FAIL_POOL, name_prefix="failing")
            service.set_deploy_interface(failing, FAIL_DEPLOY_INTERFACE)
            yield service
    except (OSError, subprocess.SubprocessError, IronicError, TimeoutError) as exc:
        unavailable(f"standalone Ironic did not start: {exc}")


def options(service: IronicService, **extra: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {"endpoint": service.endpoint, "resource_class": MAIN_POOL,
                            "timeout": 10.0}
    opts.update(extra)
    return opts


@pytest.fixture
def driver(ironic: IronicService) -> Iterator[Any]:
    from amphora_compute.drivers.ironic.driver import IronicDriver

    drv = IronicDriver(options(ironic))
    yield drv
    drv.close()


def request(name: str | None = None, **overrides: Any) -> BuildRequest:
    overrides.setdefault("image", ImageRef(id=IMAGE_URL))
    return BuildRequest(name=name or f"amp-{uuid.uuid4().hex[:8]}",
                        amphora_type=AmphoraType.BAREMETAL, **overrides)


def wait_node_free(service: IronicService, node_uuid: str, timeout: float = 30) -> None:
    wait_until(lambda: (lambda n: n["provision_state"] == "available"
                        and n["instance_uuid"] is None)(service.node(node_uuid)),
               timeout=timeout, what=f"node {node_uuid} back to available")


class TestIronicContract(DriverContract):
    """The core's contract suite, unchanged, against the real Ironic."""

    @pytest.fixture
    def compute_driver(self, driver: Any) -> Any:
        return driver

    @pytest.fixture
    def amphora_request_factory(self) -> Any:
        def make(name: str, **overrides: Any) -> BuildRequest:
            overrides.setdefault("amphora_type", AmphoraType.BAREMETAL)
            overrides.setdefault("image", ImageRef(id=IMAGE_URL))
            return BuildRequest(name=name, **overrides)

        return make


# -- what the build sends ----------------------------------------------------------------


def test_build_sets_instance_info_and_names_the_allocation(ironic: IronicService,
                                                          driver: Any) -> None:
    amphora_id = driver.build(request("amp-info", flavor=Flavor(disk_gb=33),
                                      ssh_keys=(SSH_KEY,),
                                      config_drive_files={"/etc/octavia/agent.conf": b"x=1"},
                                      user_data=b"#!/bin/sh\necho hello\n"))
    try:
        record = wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, 30)
        node = ironic.node(record.extra["node_uuid"])
        assert node["instance_uuid"] == amphora_id
        info = node["instance_info"]
        assert info["image_source"] == IMAGE_URL
        assert info["root_gb"] == 33
        assert info["display_name"] == "amp-info"
        assert info.get("configdrive")  # Ironic kept the drive it built (masked in the API)
        assert node["extra"]["amphora"] == {"id": amphora_id, "name": "amp-info",
                                            "image": IMAGE_URL}
        allocation = ironic.request("GET", f"/v1/allocations/{amphora_id}")
        assert allocation["extra"]["amphora_name"] == "amp-info"
        assert allocation["resource_class"] == MAIN_POOL
        assert record.name == "amp-info" and record.flavor == MAIN_POOL
    finally:
        driver.delete(amphora_id)


def test_a_claim_names_candidates_from_the_free_node_list(ironic: IronicService,
                                                         driver: Any) -> None:
    driver._refresh_candidates(MAIN_POOL)  # what the thread pool does after a claim
    free = {n["uuid"] for n in ironic.list_nodes(resource_class=MAIN_POOL,
                                                 provision_state="available",
                                                 associated="False")}
    amphora_id = driver.build(request("amp-candidates"))
    try:
        allocation = ironic.request("GET", f"/v1/allocations/{amphora_id}")
        assert allocation["state"] == "active"
        assert len(allocation["candidate_nodes"]) == 3
        assert set(allocation["candidate_nodes"]) <= free
        assert allocation["node_uuid"] in allocation["candidate_nodes"]
    finally:
        driver.delete(amphora_id)


def test_stale_candidates_fall_back_to_the_whole_pool(ironic: IronicService) -> None:
    from amphora_compute.drivers.ironic.driver import IronicDriver

    other = IronicDriver(options(ironic, claim_candidates=0))
    drv = IronicDriver(options(ironic))
    taken = other.build(request("amp-taken"))
    try:
        taken_node = ironic.request("GET", f"/v1/allocations/{taken}")["node_uuid"]
        drv._candidates.fill(MAIN_POOL, [taken_node])  # a list gone stale: claimed meanwhile
        amphora_id = drv.build(request("amp-fallback"))
        try:
            allocation = ironic.request("GET", f"/v1/allocations/{amphora_id}")
            assert allocation["state"] == "active"
            assert allocation["node_uuid"] != taken_node
            assert not allocation.get("candidate_nodes")  # claimed again from the whole pool
            assert amphora_id not in [a["uuid"] for a in ironic.allocations()
                                      if a["state"] != "active"]
        finally:
            drv.delete(amphora_id)
    finally:
        other.delete(taken)
        drv.close()
        other.close()


def test_image_tag_resolves_to_the_newest_image(ironic: IronicService) -> None:
    from amphora_compute.drivers.ironic.driver import IronicDriver

    images = [
        {"id": "old", "source": "http://127.0.0.1:9/old.qcow2", "tags": ["amphora"],
         "created": "2024-01-01T00:00:00Z", "checksum": "a" * 32},
        {"id": "new", "source": "http://127.0.0.1:9/new.qcow2", "tags": ["amphora"],
         "created": "2025-06-01T00:00:00Z", "checksum": "b" * 32},
        {"id": "other", "source": "http://127.0.0.1:9/other.qcow2", "tags": ["amphora"],
         "owner": "someone-else", "created": "2023-01-01T00:00:00Z"},
    ]
    drv = IronicDriver(options(ironic, images=images))
    try:
        with pytest.raises(InvalidRequestError) as info:
            drv.build(request(image=ImageRef(tag="no-such-tag")))
        assert info.value.field == "image_tag"
        sources = {}
        for owner in ("someone-else", None):
            amphora_id = drv.build(request(image=ImageRef(tag="amphora", owner=owner)))
            record = wait_for_status(drv, amphora_id, AmphoraStatus.ACTIVE, 30)
            sources[owner] = ironic.node(record.extra["node_uuid"])["instance_info"]
            drv.delete(amphora_id)
        assert sources["someone-else"]["image_source"] == "http://127.0.0.1:9/other.qcow2"
        assert sources[None]["image_source"] == "http://127.0.0.1:9/new.qcow2"  # newest wins
        assert sources[None]["image_checksum"] == "b" * 32
    finally:
        drv.close()


def test_bad_requests_never_reach_ironic(ironic: IronicService, driver: Any) -> None:
    before = ironic.allocations()
    with pytest.raises(InvalidRequestError) as info:
        driver.build(request(network_ids=("net-1",)))
    assert info.value.field == "network_ids" and "Neutron" in str(info.value)
    with pytest.raises(InvalidRequestError) as info:
        driver.build(request(port_ids=("port-1",)))
    assert info.value.field == "port_ids"
    with pytest.raises(InvalidRequestError) as info:
        driver.build(request(flavor=Flavor(name="not-a-pool")))
    assert info.value.field == "flavor"
    with pytest.raises(InvalidRequestError):
        driver.build(request(image=None))
    assert ironic.allocations() == before


def test_idempotency_key_is_atomic_across_driver_instances(ironic: IronicService) -> None:
    from amphora_compute.drivers.ironic.driver import IronicDriver

    key = f"idem-{uuid.uuid4().hex}"
    drivers = [IronicDriver(options(ironic)) for _ in range(4)]
    results: list[str] = []
    errors: list[BaseException] = []

    def build(drv: Any) -> None:
        try:
            results.append(drv.build(request("amp-idem", idempotency_key=key)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(d,)) for d in drivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not errors, errors
        assert len(set(results)) == 1 and len(results) == 4
        claimed = [a for a in ironic.allocations() if a["uuid"] == results[0]]
        assert len(claimed) == 1
        assert drivers[0].find_by_idempotency_key(key).id == results[0]
    finally:
        for drv in drivers:
            drv.close()
        if results:
            drivers[0].delete(results[0])


def test_statuses_is_one_list_for_many_ids(ironic: IronicService, driver: Any) -> None:
    ids = [driver.build(request()) for _ in range(5)]
    try:
        for amphora_id in ids:
            wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, 30)
        log = ironic.workdir / "ironic.log"
        before = log.read_text(errors="replace").count("GET /v1/nodes")
        unknown = str(uuid.uuid4())
        answer = driver.statuses([*ids, unknown, "not-a-uuid"])
        after = log.read_text(errors="replace").count("GET /v1/nodes")
        assert after - before == 1  # one page: one node list request for seven ids
        assert all(answer[i].status is AmphoraStatus.ACTIVE for i in ids)
        assert answer[unknown].status is AmphoraStatus.DELETED
        assert answer["not-a-uuid"].status is AmphoraStatus.DELETED
    finally:
        for amphora_id in ids:
            driver.delete(amphora_id)


# -- faults -------------------------------------------------------------------------------


def test_failed_deploy_is_error_with_ironics_message(ironic: IronicService) -> None:
    from amphora_compute.drivers.ironic.driver import IronicDriver

    drv = IronicDriver(options(ironic, resource_class=FAIL_POOL))
    try:
        amphora_id = drv.build(request("amp-fails"))
        record = wait_for_status(drv, amphora_id, AmphoraStatus.ERROR, 30)
        assert FAIL_DEPLOY_MESSAGE in (record.fault or "")
        assert record.raw_status.startswith("deploy failed")
        node_uuid = record.extra["node_uuid"]
        drv.delete(amphora_id)
        wait_for_status(drv, amphora_id, AmphoraStatus.DELETED, 30)
        wait_node_free(ironic, node_uuid)
        assert not [a for a in ironic.allocations() if a["resource_class"] == FAIL_POOL]
    finally:
        drv.close()


def test_a_full_pool_fails_the_build_cleanly(ironic: IronicService) -> None:
    from amphora_compute.drivers.ironic.driver import IronicDriver

    drv = IronicDriver(options(ironic, resource_class=FAIL_POOL))
    try:
        first = drv.build(request())
        with pytest.raises(AmphoraBuildError) as info:
            drv.build(request())
        assert info.value.caller_error  # capacity must not trip the breaker
        assert "no available nodes" in (info.value.fault or "")
        assert [a["uuid"] for a in ironic.allocations()
                if a["resource_class"] == FAIL_POOL] == [first]
        drv.delete(first)
        node = wait_for_status(drv, first, AmphoraStatus.DELETED, 30)
        assert node.status is AmphoraStatus.DELETED
    finally:
        drv.close()


@pytest.mark.parametrize("candidates", ["cold", "warm"])
def test_twenty_concurrent_builds_against_ten_nodes(ironic: IronicService,
                                                    candidates: str) -> None:
    """Cold: every claim asks Ironic for any node of the pool.  Warm: the driver's
    free-node list is filled first, so the first builds name disjoint candidates
    and the rest (the list runs out) claim from the whole pool, all at once."""
    from amphora_compute.drivers.ironic.driver import IronicDriver

    # 30 s bounds (not the module's 10 s): on sqlite, 20 simultaneous claims and ten
    # deploys queue on one database and on Ironic's node locks (1 s retry interval),
    # so a winning claim or a PATCH can take several seconds on a busy 2-core machine.
    drv = IronicDriver(options(ironic, resource_class=RACE_POOL, deploy_workers=10,
                               claim_timeout=30.0, timeout=30.0))
    if candidates == "warm":
        drv._refresh_candidates(RACE_POOL)
        assert len(drv._candidates.take(RACE_POOL)) == 3  # the list has the free nodes
        drv._refresh_candidates(RACE_POOL)
    ok: list[str] = []
    failed: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def build(i: int) -> None:
        start.wait(30)
        try:
            amphora_id = drv.build(request(f"race-{i}"))
        except BaseException as exc:  # noqa: BLE001 - classified below
            with lock:
                failed.append(exc)
        else:
            with lock:
                ok.append(amphora_id)

    threads = [threading.Thread(target=build, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert len(ok) == 10, (ok, failed)
        assert len(failed) == 10
        assert all(isinstance(e, AmphoraBuildError) for e in failed), failed
        records = drv.statuses(ok)
        nodes = {r.extra["node_uuid"] for r in records.values()}
        assert len(nodes) == 10  # ten distinct nodes: no double claim
        allocations = [a for a in ironic.allocations() if a["resource_class"] == RACE_POOL]
        assert sorted(a["uuid"] for a in allocations) == sorted(ok)  # none stuck or failed
        assert all(a["state"] == "active" for a in allocations)
        for amphora_id in ok:
            wait_for_status(drv, amphora_id, AmphoraStatus.ACTIVE, 60)
    finally:
        for amphora_id in ok:
            drv.delete(amphora_id)
        for amphora_id in ok:
            wait_for_status(drv, amphora_id, AmphoraStatus.DELETED, 60)
        drv.close()
    wait_until(lambda: all(n["provision_state"] == "available" and not n["instance_uuid"]
                           for n in ironic.list_nodes(resource_class=RACE_POOL,
                                                      fields="uuid,provision_state,"
                                                             "instance_uuid")),
               timeout=60, what="the race pool to be free again")


class ResettingProxy:
    """A loopback TCP proxy to Ironic that resets the client's first claim POST.

    The POST reaches Ironic (which creates the allocation) and Ironic answers,
    but the proxy drops that answer and resets the client's connection: what
    the kernel did to some of 20 simultaneous connections when Ironic's API
    server overflowed its listen backlog.  Every other byte is passed through.
    """

    TRIGGER = b"POST /v1/allocations"

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = free_port()
        self.resets = 0
        self._armed = True
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream, timeout=30)
        with contextlib.closing(client), contextlib.closing(upstream):
            while not self._stop.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.5)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is upstream:
                        client.sendall(data)
                        continue
                    upstream.sendall(data)
                    if data.startswith(self.TRIGGER) and self._take_trigger():
                        upstream.settimeout(30)
                        upstream.recv(65536)  # Ironic processed the POST and answered
                        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          struct.pack("ii", 1, 0))
                        return  # closing with linger 0 sends the client a reset

    def _take_trigger(self) -> bool:
        with self._lock:
            if not self._armed:
                return False
            self._armed = False
            self.resets += 1
            return True


def test_a_claim_whose_answer_was_lost_is_not_claimed_twice(ironic: IronicService) -> None:
    """The claim POST reached Ironic but its answer was reset: the retry finds its own claim."""
    from amphora_compute.drivers.ironic.driver import IronicDriver

    proxy = ResettingProxy(ironic.port)
    drv = IronicDriver({**options(ironic), "endpoint": proxy.endpoint})
    amphora_id = None
    try:
        amphora_id = drv.build(request("amp-reset"))
        assert proxy.resets == 1
        mine = [a for a in ironic.allocations() if a["uuid"] == amphora_id]
        assert len(mine) == 1 and mine[0]["state"] == "active"
        assert not [a for a in ironic.allocations()
                    if a["extra"].get("amphora_name") == "amp-reset" and a["uuid"] != amphora_id]
        wait_for_status(drv, amphora_id, AmphoraStatus.ACTIVE, 30)
    finally:
        if amphora_id:
            drv.delete(amphora_id)
            wait_for_status(drv, amphora_id, AmphoraStatus.DELETED, 30)
        drv.close()
        proxy.close()


def test_a_claim_whose_answer_was_lost_and_not_retried_is_released(
        ironic: IronicService) -> None:
    """No retry left (connect_retries = 0): the build fails and its claim is released."""
    from amphora_compute.drivers.ironic.driver import IronicDriver

    proxy = ResettingProxy(ironic.port)
    drv = IronicDriver({**options(ironic), "endpoint": proxy.endpoint, "connect_retries": 0})
    try:
        with pytest.raises(BackendUnavailableError) as info:
            drv.build(request("amp-reset-once"))
        assert proxy.resets == 1 and info.value.amphora_id
        assert not [a for a in ironic.allocations()
                    if a["extra"].get("amphora_name") == "amp-reset-once"]
    finally:
        drv.close()
        proxy.close()


def test_an_expected_conflict_is_not_an_error_line(ironic: IronicService, driver: Any,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """ironicclient's "Error contacting Ironic server" for a 409 is DEBUG, not ERROR."""
    from ironicclient.common.apiclient import exceptions as ironic_exceptions

    amphora_id = driver.build(request("amp-409"))
    try:
        wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, 30)
        caplog.set_level(logging.INFO)
        with pytest.raises(ironic_exceptions.Conflict):  # an active node's allocation stays
            driver._ironic().allocation.delete(amphora_id)
        assert not [r for r in caplog.records
                    if r.name.startswith("ironicclient") and r.levelno >= logging.WARNING]
        caplog.clear()
        caplog.set_level(logging.DEBUG, logger="ironicclient.common.http")
        with pytest.raises(ironic_exceptions.Conflict):
            driver._ironic().allocation.delete(amphora_id)
        assert [r for r in caplog.records if r.levelno == logging.DEBUG
                and r.getMessage().startswith("Error contacting Ironic server")]
    finally:
        driver.delete(amphora_id)


def test_ironic_killed_mid_build_opens_the_breaker_and_nothing_leaks() -> None:
    try:
        cm = ironic_service(2, resource_class=MAIN_POOL,
                            config_extra={"fake": {"deploy_delay": "1"}})
        service = cm.__enter__()
    except (OSError, subprocess.SubprocessError, IronicError, TimeoutError) as exc:
        unavailable(f"standalone Ironic did not start: {exc}")
        return
    config = Config(types={**Config().types, AmphoraType.BAREMETAL: "ironic"},
                    backends={"ironic": options(service, timeout=3.0)},
                    breaker=BreakerSettings(fail_max=2, reset_timeout=1.0))
    dispatcher = Dispatcher(config)
    try:
        amphora_id = dispatcher.build(request("amp-killed"))
        service.kill()  # mid-build: the deploy (1 s) is under way or about to start
        with pytest.raises(BackendUnavailableError) as info:
            dispatcher.statuses([amphora_id])
        assert info.value.__cause__ is not None and not info.value.caller_error
        with pytest.raises(BackendUnavailableError):
            dispatcher.build(request("amp-while-down"))
        with pytest.raises(CircuitOpenError):  # open: refused without touching Ironic
            dispatcher.statuses([amphora_id])
        assert dispatcher.breakers.is_closed("backend:ironic") is False
        service.restart()
        time.sleep(1.1)  # the breaker's reset_timeout: the next call is the trial
        record = dispatcher.statuses([amphora_id])[amphora_id]
        assert dispatcher.breakers.is_closed("backend:ironic")
        assert record.status in (AmphoraStatus.BUILDING, AmphoraStatus.ACTIVE,
                                 AmphoraStatus.ERROR)
        dispatcher.delete(amphora_id)
        wait_until(lambda: dispatcher.statuses([amphora_id])[amphora_id].status
                   is AmphoraStatus.DELETED, timeout=60, what="the amphora to be deleted")
        wait_until(lambda: not service.allocations() and all(
            n["provision_state"] == "available" and not n["instance_uuid"]
            for n in service.list_nodes(fields="uuid,provision_state,instance_uuid")),
            timeout=60, what="every node free and no allocation left")
    finally:
        dispatcher.close()
        cm.__exit__(None, None, None)
    assert not service.process.alive()


# -- the CLI, end to end --------------------------------------------------------------------


def test_cli_build_wait_and_delete(ironic: IronicService, tmp_path: Path) -> None:
    config = tmp_path / "amphora.toml"
    config.write_text(
        "[types]\nbaremetal = \"ironic\"\n\n"
        "[backends.ironic]\n"
        f"endpoint = \"{ironic.endpoint}\"\n"
        f"resource_class = \"{MAIN_POOL}\"\n"
        "timeout = 10\n"
        "[[backends.ironic.images]]\n"
        "id = \"amphora-image\"\n"
        f"source = \"{IMAGE_URL}\"\n"
        "tags = [\"amphora\"]\n"
        "created = \"2025-01-01T00:00:00Z\"\n")
    key = tmp_path / "key.pub"
    key.write_text(SSH_KEY + "\n")
    env = {**os.environ, "AMPHORA_COMPUTE_CONFIG": str(config)}
    cli = [sys.executable, "-m", "amphora_compute.cli"]
    built = subprocess.run(
        [*cli, "--format", "json", "build", "--type", "baremetal", "--name", "amp-cli",
         "--image-tag", "amphora", "--ssh-key", str(key), "--wait", "--timeout", "60"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert built.returncode == 0, built.stderr
    record = json.loads(built.stdout)
    amphora_id = record["id"]
    assert record["status"] == "ACTIVE" and record["amphora"]["type"] == "baremetal"
    node = ironic.node(ironic.request(
        "GET", f"/v1/nodes?instance_uuid={amphora_id}&fields=uuid")["nodes"][0]["uuid"])
    assert node["provision_state"] == "active" and node["power_state"] == "power on"
    deleted = subprocess.run([*cli, "delete", amphora_id], capture_output=True, text=True,
                             timeout=120, env=env, cwd=ROOT)
    assert deleted.returncode == 0, deleted.stderr
    wait_node_free(ironic, node["uuid"])
    with pytest.raises(IronicError):
        ironic.request("GET", f"/v1/allocations/{amphora_id}")


def test_unknown_ids_are_not_found(driver: Any) -> None:
    with pytest.raises(InstanceNotFoundError):
        driver.suspend(str(uuid.uuid4()))
    with pytest.raises(InstanceNotFoundError):
        driver.resume("not-even-a-uuid")


def test_a_name_left_by_an_earlier_deployment_is_not_shown(driver: Any) -> None:
    """Ironic clears instance_info on tear down, not extra: the name is tied to its id."""
    current, earlier = str(uuid.uuid4()), str(uuid.uuid4())
    node = {"uuid": str(uuid.uuid4()), "instance_uuid": current, "provision_state": "active",
            "power_state": "power on",
            "extra": {"amphora": {"id": earlier, "name": "old-amp", "image": "old"}}}
    record = driver._to_amphora(node)
    assert record.name is None and record.image is None
    node["extra"]["amphora"] = {"id": current, "name": "new-amp", "image": "img"}
    record = driver._to_amphora(node)
    assert (record.name, record.image, record.status) == ("new-amp", "img", AmphoraStatus.ACTIVE)
