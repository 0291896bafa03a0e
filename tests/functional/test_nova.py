"""The ``nova`` driver against a real Nova stack (tests/services/nova_stack).

Nova 34 with two ``fake.FakeDriver`` compute hosts, Placement, Glance,
Neutron and RabbitMQ run as real processes on loopback; the unmodified
openstacksdk talks to them over HTTP.  Nothing here mocks the client library:
where a test counts requests it wraps the keystoneauth session's ``request``
and passes every call through.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import gzip
import json
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from amphora_compute.enums import AmphoraStatus, AmphoraType, Capability
from amphora_compute.errors import (
    AmphoraBuildError,
    AmphoraComputeError,
    BackendUnavailableError,
    CircuitOpenError,
    ConfigError,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
)
from amphora_compute.models import BuildRequest, Flavor, ImageRef
from amphora_compute.testing.contract import DriverContract, wait_for_status
from tests.functional._cli import run_amphora
from tests.services._proc import unavailable, wait_until
from tests.services.nova_stack import NovaStack

pytestmark = pytest.mark.functional
LOG = logging.getLogger(__name__)
TIMEOUT = 90.0  # seconds to ACTIVE: a burst of boots on 2 busy cores


@pytest.fixture(scope="session")
def nova_stack() -> Iterator[NovaStack]:
    """The stack, once per session; stopped (every process group) at the end."""
    try:
        import openstack  # noqa: F401
    except ImportError:
        unavailable("openstacksdk is not installed (pip install 'amphora-compute[nova]')")
    attach = os.environ.get("AMPHORA_NOVA_STACK_JSON")
    if attach:  # a stack started by hand (python -m tests.services.nova_stack start)
        yield NovaStack.attach(attach)
        return
    stack = NovaStack()
    try:
        stack.start()
    except Exception as exc:  # noqa: BLE001 - reported through unavailable()
        stack.stop()
        unavailable(f"the Nova stack could not start: {exc}")
    LOG.warning("nova stack started in %.1fs (%s)", stack.timings["total"],
                ", ".join(f"{k} {v:.1f}s" for k, v in stack.timings.items()))
    try:
        yield stack
    finally:
        stack.stop()
        if os.environ.get("AMPHORA_KEEP_STACK_DIR") != "1":
            shutil.rmtree(stack.run_dir, ignore_errors=True)


def nova_options(stack: NovaStack, **overrides: Any) -> dict[str, Any]:
    """Backend options for the stack: its cloud, management network, image tag, flavor."""
    options: dict[str, Any] = {
        "cloud": stack.cloud, "clouds_yaml": str(stack.clouds_yaml),
        "management_network": stack.resources.network_name,
        "image_tag": stack.resources.image_tag, "flavor": "amp.tiny", "timeout": 30.0}
    options.update(overrides)
    return options


def request(name: str | None = None, **overrides: Any) -> BuildRequest:
    return BuildRequest(name=name or f"nv-{uuid.uuid4().hex[:10]}", amphora_type=AmphoraType.VM,
                        **overrides)


@pytest.fixture
def driver(nova_stack: NovaStack) -> Iterator[Any]:
    """A driver; every server it built in the test is deleted at teardown."""
    from amphora_compute.drivers.nova.driver import NovaDriver

    d = NovaDriver(nova_options(nova_stack))
    yield d
    _delete_all(d)
    d.close()


def _delete_all(d: Any) -> None:
    with contextlib.suppress(AmphoraComputeError):
        for amphora in d.list():
            with contextlib.suppress(AmphoraComputeError):
                d.delete(amphora.id)


@pytest.fixture
def sdk(nova_stack: NovaStack) -> Any:
    """A plain openstacksdk connection, to look at what Nova really stored."""
    import openstack.config
    import openstack.connection

    region = openstack.config.OpenStackConfig(config_files=[str(nova_stack.clouds_yaml)]
                                              ).get_one(cloud=nova_stack.cloud)
    return openstack.connection.Connection(config=region)


@contextlib.contextmanager
def recorded_requests(d: Any) -> Iterator[list[tuple[str, str]]]:
    """(method, url + query) of every request the driver sends, passed through unchanged."""
    session = d._connection().session
    calls: list[tuple[str, str]] = []
    original = session.request

    def spy(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        params = kwargs.get("params") or {}
        query = "&".join(f"{k}={v}" for k, v in dict(params).items())
        calls.append((method.upper(), f"{url}?{query}" if query else url))
        return original(url, method, *args, **kwargs)

    session.request = spy
    try:
        yield calls
    finally:
        del session.request


# -- the contract suite, unchanged ------------------------------------------------------


class TestNovaContract(DriverContract):
    @pytest.fixture
    def compute_driver(self, nova_stack: NovaStack) -> Iterator[Any]:
        from amphora_compute.drivers.nova.driver import NovaDriver

        d = NovaDriver(nova_options(nova_stack))
        yield d
        d.close()

    @pytest.fixture
    def amphora_request_factory(self, nova_stack: NovaStack) -> Callable[..., BuildRequest]:
        def make(name: str, **overrides: Any) -> BuildRequest:
            overrides.setdefault("amphora_type", AmphoraType.VM)
            overrides.setdefault("flavor", Flavor(name="amp.tiny"))
            overrides.setdefault("image", ImageRef(tag=nova_stack.resources.image_tag))
            overrides.setdefault("network_ids", (nova_stack.resources.network_id,))
            return BuildRequest(name=name, **overrides)

        return make

    @pytest.fixture
    def contract_timeout(self) -> float:
        return TIMEOUT

    @pytest.fixture(autouse=True)
    def settled_fleet(self, request: pytest.FixtureRequest, compute_driver: Any) -> None:
        """Tests that compare two ``list()`` snapshots start on a settled fleet.

        Nova deletes asynchronously: a server the previous test deleted while it
        was still being scheduled can vanish (or briefly reappear from the
        conductor) between two snapshots, which says nothing about the request
        under test.
        """
        if not request.node.name.startswith(("test_spec_limits_are_enforced",
                                              "test_wrong_amphora_type")):
            return
        seen: list[set[str]] = []

        def settled() -> bool:
            seen.append({a.id for a in compute_driver.list()})
            return len(seen) > 1 and seen[-1] == seen[-2]

        wait_until(settled, 30, interval=1.0, what="the fleet to settle")


# -- what the driver sends and reads ---------------------------------------------------------


class TestNovaDriver:
    def test_request_reaches_nova_as_asked(self, nova_stack: NovaStack, driver: Any,
                                           sdk: Any) -> None:
        res = nova_stack.resources
        key = f"idem-{uuid.uuid4().hex}"
        amphora_id = driver.build(request(
            "nv-mapped", flavor=Flavor(name="amp.small"), image=ImageRef(id=res.image_id),
            network_ids=(res.network_id, res.vip_network_id),
            security_groups=(res.security_group_name,), key_name=res.key_name,
            availability_zone="nova", idempotency_key=key, metadata={"lb": "lb-1"}))
        amphora = wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, TIMEOUT)
        server = sdk.compute.get_server(amphora_id)
        assert server.key_name == res.key_name
        assert server.flavor["original_name"] == "amp.small" == amphora.flavor
        assert server.image["id"] == res.image_id == amphora.image
        assert {g["name"] for g in server.security_groups} == {res.security_group_name}
        assert set(server.addresses) == {res.network_name, res.vip_network_name}
        assert "amphora-compute" in server.tags
        assert server.metadata["amphora_idempotency_key"] == key
        assert server.metadata["lb"] == "lb-1"
        assert amphora.availability_zone == "nova"
        assert amphora.idempotency_key == key
        mgmt = [a["addr"] for a in server.addresses[res.network_name]]
        assert amphora.management_address == mgmt[0]
        assert len(amphora.addresses) == 2

    def test_image_tag_picks_the_newest_active_image_and_honours_the_owner(
            self, nova_stack: NovaStack, sdk: Any) -> None:
        from amphora_compute.drivers.nova.driver import NovaDriver

        tag = f"amp-newest-{uuid.uuid4().hex[:6]}"
        old = sdk.image.create_image(name=f"{tag}-old", data=b"\0" * 512, disk_format="raw",
                                     container_format="bare", tags=[tag], wait=True)
        wait_until(lambda: sdk.image.get_image(old.id).created_at is not None, 5)
        new = None
        for _ in range(30):  # created_at has one-second resolution
            new = sdk.image.create_image(name=f"{tag}-new", data=b"\0" * 512,
                                         disk_format="raw", container_format="bare",
                                         tags=[tag], wait=True)
            if new.created_at != old.created_at:
                break
            sdk.image.delete_image(new)
        assert new is not None
        d = NovaDriver(nova_options(nova_stack, image_tag=tag))
        try:
            amphora_id = d.build(request())
            assert sdk.compute.get_server(amphora_id).image["id"] == new.id
            owner = sdk.image.get_image(new.id).owner
            ok = d.build(request(image=ImageRef(tag=tag, owner=owner)))
            assert sdk.compute.get_server(ok).image["id"] == new.id
            with pytest.raises(InvalidRequestError) as info:
                d.build(request(image=ImageRef(tag=tag, owner="someone-else")))
            assert info.value.field == "image_tag"
        finally:
            _delete_all(d)
            d.close()
            sdk.image.delete_image(old)
            sdk.image.delete_image(new)

    def test_neutral_flavor_gets_the_smallest_that_fits(self, driver: Any) -> None:
        amphora_id = driver.build(request(flavor=Flavor(vcpus=2, ram_mb=1500)))
        assert driver.get_amphora(amphora_id=amphora_id).flavor == "amp.medium"
        with pytest.raises(InvalidRequestError) as info:
            driver.build(request(flavor=Flavor(vcpus=100_000)))
        assert info.value.field == "flavor"

    def test_lookups_are_cached_so_a_build_is_one_create_call(self, driver: Any) -> None:
        driver.build(request())  # warms image-by-tag, flavor and network lookups
        with recorded_requests(driver) as calls:
            driver.build(request())
        assert [m for m, _ in calls] == ["POST"], calls
        with recorded_requests(driver) as calls:
            driver.build(request(idempotency_key=f"k-{uuid.uuid4().hex}"))
        assert [m for m, _ in calls] == ["GET", "POST"], calls  # the key's one lookup

    def test_statuses_is_one_filtered_list_however_many_ids(self, driver: Any) -> None:
        ids = [driver.build(request()) for _ in range(4)]
        unknown = [str(uuid.uuid4()) for _ in range(20)]
        with recorded_requests(driver) as calls:
            answer = driver.statuses([*ids, *unknown])
        assert len(calls) == 1, calls
        method, url = calls[0]
        assert method == "GET" and "/servers/detail" in url and "tags=amphora-compute" in url
        assert {answer[i].status for i in unknown} == {AmphoraStatus.DELETED}
        assert {answer[i].status for i in ids} <= {AmphoraStatus.BUILDING,
                                                   AmphoraStatus.ACTIVE}

    def test_a_few_ids_out_of_a_large_fleet_are_fetched_by_id(
            self, nova_stack: NovaStack) -> None:
        from amphora_compute.drivers.nova.driver import NovaDriver

        d = NovaDriver(nova_options(nova_stack, per_id_max=2, per_id_fleet_ratio=2))
        try:
            ids = [d.build(request()) for _ in range(4)]
            assert len(d.list()) >= 4  # the fleet as last seen
            with recorded_requests(d) as calls:
                answer = d.statuses([ids[0], "f" * 32])
            assert [m for m, _ in calls] == ["GET", "GET"]
            assert all("/servers/detail" not in url for _, url in calls)
            assert answer[ids[0]].id == ids[0]
            assert answer["f" * 32].status is AmphoraStatus.DELETED
        finally:
            _delete_all(d)
            d.close()

    def test_servers_not_built_by_this_project_are_not_listed(
            self, nova_stack: NovaStack, driver: Any, sdk: Any) -> None:
        res = nova_stack.resources
        other = sdk.compute.create_server(name="someone-else", image_id=res.image_id,
                                          flavor_id=res.flavors["amp.tiny"],
                                          networks=[{"uuid": res.network_id}])
        try:
            assert other.id not in {a.id for a in driver.list()}
            assert driver.statuses([other.id])[other.id].status is AmphoraStatus.DELETED
        finally:
            sdk.compute.delete_server(other)

    def test_personality_files_land_on_a_config_drive_at_2_56(
            self, nova_stack: NovaStack, driver: Any, sdk: Any) -> None:
        files = {"/etc/octavia/amphora-agent.conf": b"[DEFAULT]\n",
                 "/etc/octavia/certs/server.pem": b"-----BEGIN-----\n"}
        amphora_id = driver.build(request(config_drive_files=files, user_data=b"#!/bin/sh\n"))
        wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, TIMEOUT)
        server = sdk.compute.get_server(amphora_id)
        assert server.has_config_drive in (True, "True")
        assert base64.b64decode(server.user_data) == b"#!/bin/sh\n"
        # ...and Nova really refuses personality from 2.57 (why 2.56 is pinned for it):
        res = nova_stack.resources
        answer = sdk.compute.post("/servers", json={"server": {
            "name": "nv-257", "imageRef": res.image_id, "flavorRef": res.flavors["amp.tiny"],
            "networks": "none", "personality": [{"path": "/x", "contents": "eA=="}]}},
            microversion="2.57")
        assert answer.status_code == 400

    def test_injected_file_quota_is_checked_before_the_create(
            self, nova_stack: NovaStack, sdk: Any) -> None:
        from amphora_compute.drivers.nova.driver import NovaDriver

        project = sdk.compute.get("/limits", microversion="2.56").json()
        assert project["limits"]["absolute"]["maxPersonalitySize"] >= 13656  # the stack's
        quota_url = "/os-quota-class-sets/default"  # per-project sets need Keystone
        answer = sdk.compute.put(quota_url, json={"quota_class_set": {
            "injected_file_content_bytes": 1000}}, microversion="2.56")
        assert answer.status_code == 200, answer.text
        d = NovaDriver(nova_options(nova_stack))
        try:
            with recorded_requests(d) as calls, pytest.raises(InvalidRequestError) as info:
                d.build(request(config_drive_files={"/etc/octavia/big.pem": b"x" * 2000}))
            assert info.value.field == "config_drive_files" and "maxPersonalitySize" in str(
                info.value)
            assert not [c for c in calls if c[0] == "POST"], calls  # Nova never saw a create
        finally:
            sdk.compute.put(quota_url, json={"quota_class_set": {
                "injected_file_content_bytes": 13656}}, microversion="2.56")
            d.close()

    def test_user_data_delivery_writes_files_with_cloud_init(
            self, nova_stack: NovaStack, sdk: Any) -> None:
        from amphora_compute.drivers.nova.driver import NovaDriver

        d = NovaDriver(nova_options(nova_stack, config_drive_delivery="user_data"))
        try:
            files = {"/etc/octavia/amphora-agent.conf": b"[DEFAULT]\nx = 1\n"}
            amphora_id = d.build(request(config_drive_files=files, user_data=b"#!/bin/sh\n"))
            server = sdk.compute.get_server(amphora_id)
            assert server.has_config_drive in (False, "", None)
            message = email.message_from_bytes(base64.b64decode(server.user_data))
            parts = [p for p in message.walk() if not p.is_multipart()]
            assert parts[0].get_content_type() == "text/cloud-config"
            config = json.loads(parts[0].get_payload().split("\n", 1)[1])
            entry = config["write_files"][0]
            assert entry["path"] == "/etc/octavia/amphora-agent.conf"
            assert gzip.decompress(base64.b64decode(entry["content"])) == b"[DEFAULT]\nx = 1\n"
            assert parts[1].get_payload(decode=True) == b"#!/bin/sh\n"
            # Over Nova's 65535 bytes (base64): refused before any call.
            big = os.urandom(9 * 1024)
            with recorded_requests(d) as calls, pytest.raises(InvalidRequestError) as info:
                d.build(request(config_drive_files={f"/etc/f{i}": big for i in range(5)}))
            assert info.value.field == "config_drive_files" and calls == []
            with recorded_requests(d) as calls, pytest.raises(InvalidRequestError) as info:
                d.build(request(user_data=b"x" * 50_000))
            assert info.value.field == "user_data" and calls == []
        finally:
            _delete_all(d)
            d.close()

    def test_anti_affinity_spreads_over_both_hosts_and_a_third_cannot_fit(
            self, driver: Any) -> None:
        group = driver.create_server_group(f"nv-grp-{uuid.uuid4().hex[:6]}", "anti-affinity")
        try:
            ids = [driver.build(request(server_group=group)) for _ in range(2)]
            hosts = {wait_for_status(driver, i, AmphoraStatus.ACTIVE, TIMEOUT).extra["host"]
                     for i in ids}
            assert len(hosts) == 2
            third = driver.build(request(server_group=group))
            failed = wait_for_status(driver, third, AmphoraStatus.ERROR, TIMEOUT)
            assert "No valid host" in (failed.fault or "")
        finally:
            _delete_all(driver)
            wait_until(lambda: not driver.list(), TIMEOUT, what="servers to go")
            driver.delete_server_group(group)
            driver.delete_server_group(group)  # gone: still success
        with pytest.raises(InvalidRequestError):
            driver.create_server_group("g", "spread-thin")

    def test_attach_and_detach_a_network(self, nova_stack: NovaStack, driver: Any,
                                         sdk: Any) -> None:
        amphora_id = driver.build(request())
        wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, TIMEOUT)
        iface = driver.attach_network_or_port(amphora_id,
                                              network_id=nova_stack.resources.vip_network_id)
        assert iface["network_id"] == nova_stack.resources.vip_network_id
        assert iface["port_id"] and iface["fixed_ips"][0]["ip_address"].startswith("10.98.")
        ports = {i.port_id for i in sdk.compute.server_interfaces(amphora_id)}
        assert iface["port_id"] in ports
        driver.detach_port(amphora_id, iface["port_id"])
        wait_until(lambda: iface["port_id"] not in {
            i.port_id for i in sdk.compute.server_interfaces(amphora_id)}, 30,
            what="the port to be detached")
        driver.detach_port(amphora_id, iface["port_id"])  # already detached: success
        with pytest.raises(InvalidRequestError):
            driver.attach_network_or_port(amphora_id)

    def test_validate_flavor_and_availability_zone(self, driver: Any) -> None:
        driver.validate_flavor("amp.small")
        driver.validate_flavor("vcpus=2,ram_mb=2048")
        for bad in ("m1.nope", "vcpus=100000"):
            with pytest.raises(InvalidRequestError) as info:
                driver.validate_flavor(bad)
            assert info.value.field == "flavor"
        driver.validate_availability_zone("nova")
        with pytest.raises(InvalidRequestError) as info:
            driver.validate_availability_zone("mars-1")
        assert info.value.field == "availability_zone"

    def test_a_shut_off_server_is_suspended_and_resumes(self, driver: Any, sdk: Any) -> None:
        amphora_id = driver.build(request())
        wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, TIMEOUT)
        sdk.compute.stop_server(amphora_id)
        record = wait_for_status(driver, amphora_id, AmphoraStatus.SUSPENDED, TIMEOUT)
        assert record.raw_status == "SHUTOFF"
        driver.suspend(amphora_id)  # already stopped: nothing to do
        driver.resume(amphora_id)
        wait_for_status(driver, amphora_id, AmphoraStatus.ACTIVE, TIMEOUT)
        with pytest.raises(NotSuspendedError) as info:
            driver.resume(amphora_id)
        assert type(info.value.__cause__).__module__.startswith("openstack")

    def test_bad_options_are_config_errors(self, nova_stack: NovaStack) -> None:
        from amphora_compute.drivers.nova.driver import NovaDriver

        for options, key in (({}, "cloud"), (nova_options(nova_stack, colud="x"), "colud"),
                             (nova_options(nova_stack, config_drive_delivery="fax"),
                              "config_drive_delivery"),
                             (nova_options(nova_stack, flavor="vcpus=many"), "flavor")):
            with pytest.raises(ConfigError) as info:
                NovaDriver(options)
            assert key in str(info.value)
        d = NovaDriver(nova_options(nova_stack, cloud="no-such-cloud"))
        with pytest.raises(ConfigError):
            d.list()

    def test_no_secret_reaches_a_log_line_even_encoded(
            self, driver: Any, caplog: pytest.LogCaptureFixture) -> None:
        secret = "nova-s3cr3t-" + uuid.uuid4().hex
        caplog.set_level(logging.DEBUG)
        driver.build(request(user_data=f"#!/bin/sh\necho {secret}\n".encode(),
                             config_drive_files={"/etc/amphora/key.pem": secret.encode()}))
        assert "REQ" in caplog.text  # keystoneauth's DEBUG lines are on...
        for encoded in (secret, base64.b64encode(secret.encode()).decode()[:16],
                        base64.b64encode(f"#!/bin/sh\necho {secret}".encode()).decode()[:24]):
            assert encoded not in caplog.text  # ...but no body carries the secret


# -- faults ------------------------------------------------------------------------------


class TestNovaFaults:
    def test_a_flavor_larger_than_any_host_goes_to_error_with_novas_fault(
            self, driver: Any) -> None:
        amphora_id = driver.build(request(flavor=Flavor(name="amp.huge")))
        record = wait_for_status(driver, amphora_id, AmphoraStatus.ERROR, TIMEOUT)
        assert record.raw_status == "ERROR"
        assert "No valid host was found" in (record.fault or "")
        assert driver.statuses([amphora_id])[amphora_id].fault == record.fault
        driver.delete(amphora_id)
        wait_for_status(driver, amphora_id, AmphoraStatus.DELETED, TIMEOUT)

    def test_unknown_image_and_network_are_caller_errors(self, nova_stack: NovaStack,
                                                         driver: Any) -> None:
        with pytest.raises(AmphoraBuildError) as info:
            driver.build(request(image=ImageRef(id=str(uuid.uuid4()))))
        assert info.value.caller_error and "400" in str(info.value)
        with pytest.raises(AmphoraBuildError) as info:
            driver.build(request(network_ids=(str(uuid.uuid4()),)))
        assert info.value.caller_error
        assert type(info.value.__cause__).__module__.startswith("openstack")

    def test_failed_and_timed_out_waits_delete_the_servers(self, nova_stack: NovaStack
                                                           ) -> None:
        from amphora_compute.aio import AsyncDispatcher, WaitFailedError, WaitTimeoutError
        from amphora_compute.config import Config
        from amphora_compute.dispatcher import Dispatcher

        config = Config(types={**Config().types, AmphoraType.VM: "nova"},
                        backends={"nova": nova_options(nova_stack)})

        async def scenario() -> tuple[list[str], list[str]]:
            async with AsyncDispatcher(Dispatcher(config)) as amp:
                bad = await amp.build(request(flavor=Flavor(name="amp.huge")))
                with pytest.raises(WaitFailedError) as failed:
                    await amp.wait_for([bad], timeout=TIMEOUT, delete_on_failure=True)
                assert "No valid host" in str(failed.value)
                slow = await amp.build(request())
                with pytest.raises(WaitTimeoutError) as timed_out:
                    await amp.wait_for([slow], timeout=0.05, delete_on_failure=True)
                return list(failed.value.deleted), list(timed_out.value.deleted)

        failed_deleted, timeout_deleted = asyncio.run(scenario())
        from amphora_compute.drivers.nova.driver import NovaDriver

        d = NovaDriver(nova_options(nova_stack))
        try:
            ids = [*failed_deleted, *timeout_deleted]
            assert len(ids) == 2
            wait_until(lambda: all(a.status is AmphoraStatus.DELETED
                                   for a in d.statuses(ids).values()), TIMEOUT,
                       what="both servers to be gone")
            assert not set(ids) & {a.id for a in d.list()}
        finally:
            d.close()

    def test_nova_api_down_fails_fast_opens_the_breaker_and_recovers(
            self, nova_stack: NovaStack) -> None:
        from amphora_compute.config import BreakerSettings, Config
        from amphora_compute.dispatcher import Dispatcher

        config = Config(types={**Config().types, AmphoraType.VM: "nova"},
                        backends={"nova": nova_options(nova_stack, read_retries=0)},
                        breaker=BreakerSettings(fail_max=3, reset_timeout=1.0))
        if nova_stack.attached:
            pytest.skip("attached to a stack started elsewhere: cannot stop its nova-api")
        dispatcher = Dispatcher(config)
        try:
            amphora_id = dispatcher.build(request())
            assert dispatcher.statuses([amphora_id])[amphora_id].status in (
                AmphoraStatus.BUILDING, AmphoraStatus.ACTIVE)
            for _ in range(4):  # caller errors never trip the breaker
                with pytest.raises(InstanceNotFoundError):
                    dispatcher.driver("vm").get_amphora(amphora_id=str(uuid.uuid4()))
                with pytest.raises(InvalidRequestError):
                    dispatcher.build(request(flavor=Flavor(name="no.such.flavor")))
            assert dispatcher.breakers.is_closed("backend:nova")
            nova_stack.stop_service("nova-api")
            failures = []
            for _ in range(3):
                with pytest.raises(AmphoraComputeError) as info:
                    dispatcher.statuses([amphora_id])
                failures.append(info.value)
            assert all(isinstance(f, BackendUnavailableError) for f in failures)
            assert all(type(f.__cause__).__module__.startswith("keystoneauth1")
                       for f in failures)
            with pytest.raises(CircuitOpenError) as opened:
                dispatcher.statuses([amphora_id])
            assert opened.value.retry_at is not None
            assert not dispatcher.breakers.is_closed("backend:nova")
        finally:
            if "nova-api" not in nova_stack.processes:
                nova_stack.start_service("nova-api")
        try:
            wait_until(lambda: dispatcher.statuses([amphora_id])[amphora_id].status
                       is not AmphoraStatus.DELETED, 60, interval=0.5,
                       what="nova-api back and the breaker letting a probe through")
            assert dispatcher.breakers.is_closed("backend:nova")
            dispatcher.delete(amphora_id)
        finally:
            dispatcher.close()

    def test_capabilities_are_declared(self) -> None:
        from amphora_compute.drivers.nova.driver import NovaDriver

        assert NovaDriver.capabilities == frozenset(Capability)


# -- the CLI, end to end ----------------------------------------------------------------------


def _amphora(*args: str, config: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run_amphora(*args, config=config, timeout=timeout)


class TestNovaCLI:
    @pytest.fixture
    def cli_config(self, nova_stack: NovaStack, tmp_path: Path) -> Path:
        path = tmp_path / "amphora.toml"
        path.write_text(
            '[types]\nvm = "nova"\n\n'
            f'[backends.nova]\ncloud = "{nova_stack.cloud}"\n'
            f'clouds_yaml = "{nova_stack.clouds_yaml}"\n'
            f'management_network = "{nova_stack.resources.network_name}"\n')
        return path

    def test_build_wait_show_suspend_resume_delete(self, nova_stack: NovaStack,
                                                   cli_config: Path, sdk: Any) -> None:
        res = nova_stack.resources
        built = _amphora("build", "--type", "vm", "--name", "cli-nova-1", "--flavor",
                         "amp.tiny", "--image-tag", res.image_tag, "--network", res.network_id,
                         "--sec-group", res.security_group_name, "--wait", "--timeout",
                         str(TIMEOUT), "--format", "json", config=cli_config)
        assert built.returncode == 0, built.stderr
        answer = json.loads(built.stdout)
        record = answer.get("amphora", answer)
        assert answer["status"] == "ACTIVE" and record["backend"] == "nova"
        amphora_id = answer["id"]
        try:
            assert sdk.compute.get_server(amphora_id).name == "cli-nova-1"
            shown = _amphora("show", amphora_id, "--format", "json", config=cli_config)
            assert shown.returncode == 0, shown.stderr
            shown_record = json.loads(shown.stdout)
            assert shown_record["name"] == "cli-nova-1"
            assert shown_record["addresses"][0].startswith("10.99.")
            suspended = _amphora("suspend", amphora_id, config=cli_config)
            assert suspended.returncode == 0, suspended.stderr
            wait_until(lambda: sdk.compute.get_server(amphora_id).status == "SUSPENDED",
                       TIMEOUT, what="the server to be suspended")
            resumed = _amphora("resume", amphora_id, config=cli_config)
            assert resumed.returncode == 0, resumed.stderr
            wait_until(lambda: sdk.compute.get_server(amphora_id).status == "ACTIVE",
                       TIMEOUT, what="the server to be active again")
            again = _amphora("resume", amphora_id, config=cli_config)
            assert again.returncode != 0 and "not suspended" in again.stderr.lower()
        finally:
            deleted = _amphora("delete", amphora_id, "--wait", "--timeout", str(TIMEOUT),
                               config=cli_config)
        assert deleted.returncode == 0, deleted.stderr
        # DELETED is reported from Nova's "deleting" task state on; the row goes soon after.
        wait_until(lambda: sdk.compute.find_server(amphora_id) is None, TIMEOUT,
                   what="the deleted server to disappear from Nova")
        gone = _amphora("delete", amphora_id, config=cli_config)
        assert gone.returncode == 0, gone.stderr
