"""The Zun driver against a server speaking Zun's v1 API over a real loopback socket.

The real Zun cannot run here (see RECIPES.md), so ``tests/services/zun_api.py``
serves Zun's API, and the unmodified python-zunclient talks to it over HTTP:
nothing in this module mocks the client library.  The server runs as its own
OS process, so the fault tests can kill it.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
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
    AmphoraComputeError,
    BackendUnavailableError,
    CircuitOpenError,
    DeleteFailed,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
)
from amphora_compute.models import BuildRequest, Flavor, ImageRef
from amphora_compute.testing.contract import DriverContract, wait_for_status
from tests.functional._cli import run_amphora
from tests.services._proc import unavailable, wait_until
from tests.services.zun_api import ZunAPIService

pytestmark = pytest.mark.functional

UNLIMITED = ("--quota-containers", "-1", "--quota-cpu", "-1", "--quota-memory", "-1",
             "--quota-disk", "-1")


def _start(workdir: Path, *args: str) -> ZunAPIService:
    try:
        import jsonschema  # noqa: F401 - the server validates bodies like Zun does
    except ImportError:
        unavailable("jsonschema is not installed (the Zun API server needs it)")
    service = ZunAPIService(workdir, args=(*UNLIMITED, *args))
    try:
        return service.start()
    except (OSError, RuntimeError) as exc:
        unavailable(f"the Zun API server did not start: {exc}")
        raise  # unreachable: unavailable() skips or fails


@pytest.fixture(scope="module")
def zun_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZunAPIService]:
    service = _start(tmp_path_factory.mktemp("zun"))
    yield service
    service.stop()


@pytest.fixture
def zun(zun_service: ZunAPIService) -> ZunAPIService:
    """The module's server, with its knobs and containers reset for this test."""
    if not zun_service.alive():
        zun_service.start()
    zun_service.reset()
    return zun_service


def options(service: ZunAPIService, **extra: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {"endpoint": service.endpoint, "timeout": 5.0,
                            "poll_interval": 0.05, "delete_wait": 10.0,
                            "flavors": {"amp.small": {"vcpus": 0.5, "ram_mb": 256,
                                                      "disk_gb": 2}},
                            "images": {"amphora": "octavia/amphora-haproxy:2.8"}}
    opts.update(extra)
    return opts


@pytest.fixture
def driver(zun: ZunAPIService) -> Iterator[Any]:
    from amphora_compute.drivers.zun.driver import ZunDriver

    d = ZunDriver(options(zun))
    yield d
    d.close()


def request(name: str | None = None, **overrides: Any) -> BuildRequest:
    overrides.setdefault("amphora_type", AmphoraType.CONTAINER)
    overrides.setdefault("image", ImageRef(id="cirros"))
    overrides.setdefault("flavor", Flavor(vcpus=1, ram_mb=256))
    return BuildRequest(name=name or f"zt-{uuid.uuid4().hex[:8]}", **overrides)


def raw(service: ZunAPIService, method: str, path: str, *, token: str | None = "t1",
        version: str | None = "container 1.40", body: Any = None,
        content_type: str = "application/json") -> tuple[int, dict[str, str], Any]:
    """A plain HTTP request, for the server's own fidelity checks (zunclient validates
    some things client-side, so it cannot send everything Zun must refuse)."""
    import requests

    headers = {}
    if token:
        headers["X-Auth-Token"] = token
    if version:
        headers["OpenStack-API-Version"] = version
    data = None
    if body is not None:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        headers["Content-Type"] = content_type
    resp = requests.request(method, service.url + path, headers=headers, data=data, timeout=5,
                            proxies={"http": None, "https": None})
    try:
        payload = resp.json()
    except ValueError:
        payload = resp.text
    return resp.status_code, dict(resp.headers), payload


# -- the contract suite, unchanged -----------------------------------------------------


class TestZunContract(DriverContract):
    @pytest.fixture
    def compute_driver(self, zun: ZunAPIService) -> Iterator[Any]:
        from amphora_compute.drivers.zun.driver import ZunDriver

        d = ZunDriver(options(zun))
        yield d
        d.close()

    @pytest.fixture
    def amphora_request_factory(self) -> Any:
        return request

    @pytest.fixture
    def contract_timeout(self) -> float:
        return 15.0


# -- the server speaks Zun ---------------------------------------------------------------


class TestServerFidelity:
    def test_version_documents_and_headers(self, zun: ZunAPIService) -> None:
        status, _, root = raw(zun, "GET", "/", token=None, version=None)
        assert status == 200
        assert root["versions"][0]["max_version"] == "1.40"
        assert root["default_version"]["min_version"] == "1.1"
        status, headers, v1 = raw(zun, "GET", "/v1", version=None)
        assert status == 200 and v1["id"] == "v1"
        assert headers["OpenStack-API-Version"] == "container 1.1"  # none means 1.1
        assert headers["OpenStack-API-Maximum-Version"] == "container 1.40"
        _, headers, _ = raw(zun, "GET", "/v1", version="container latest")
        assert headers["OpenStack-API-Version"] == "container 1.40"

    @pytest.mark.parametrize("version", ["container 1.41", "container 1.0", "container 2.1",
                                         "compute 1.40", "container x", "container"])
    def test_unsupported_microversions_are_406(self, zun: ZunAPIService, version: str) -> None:
        status, _, body = raw(zun, "GET", "/v1/containers", version=version)
        assert status == 406
        assert body["errors"][0]["status"] == 406

    def test_unknown_create_keys_are_400(self, zun: ZunAPIService) -> None:
        status, _, body = raw(zun, "POST", "/v1/containers?run=true",
                              body={"image": "cirros", "bogus": 1})
        assert status == 400
        err = body["errors"][0]
        assert err["code"] == "container.schema-validation-error"
        assert "bogus" in err["detail"] and err["request_id"] == ""
        # entrypoint arrived at 1.40, host at 1.39: the band decides
        assert raw(zun, "POST", "/v1/containers", version="container 1.39",
                   body={"image": "cirros", "entrypoint": ["sh"]})[0] == 400
        assert raw(zun, "POST", "/v1/containers", version="container 1.40",
                   body={"image": "cirros", "entrypoint": ["sh"]})[0] == 202
        # a list command is a schema error before 1.20 (a string there)
        assert raw(zun, "POST", "/v1/containers", version="container 1.19",
                   body={"image": "cirros", "command": ["sh"]})[0] == 400
        assert raw(zun, "POST", "/v1/containers?run=maybe", body={"image": "cirros"})[0] == 400

    def test_non_json_create_is_a_plain_500(self, zun: ZunAPIService) -> None:
        status, headers, _ = raw(zun, "POST", "/v1/containers", body="image=cirros",
                                 content_type="application/x-www-form-urlencoded")
        assert status == 500
        assert not headers["Content-Type"].startswith("application/json")

    def test_a_token_is_required(self, zun: ZunAPIService) -> None:
        assert raw(zun, "GET", "/v1/containers", token=None)[0] == 401

    def test_list_paging_and_filters(self, zun: ZunAPIService) -> None:
        for i in range(5):
            assert raw(zun, "POST", "/v1/containers", body={"image": "cirros",
                                                            "name": f"p{i}"})[0] == 202
        status, _, page = raw(zun, "GET", "/v1/containers?limit=2&name=p1")
        assert status == 200 and [c["name"] for c in page["containers"]] == ["p1"]
        _, _, page = raw(zun, "GET", "/v1/containers?limit=2")
        assert [c["name"] for c in page["containers"]] == ["p0", "p1"]
        assert "marker=" in page["next"] and "limit=2" in page["next"]
        nxt = page["next"].split(zun.url, 1)[1]
        _, _, page2 = raw(zun, "GET", nxt)
        assert [c["name"] for c in page2["containers"]] == ["p2", "p3"]
        assert raw(zun, "GET", "/v1/containers?labels=x")[0] == 400  # no label filter in Zun
        assert raw(zun, "GET", "/v1/containers?limit=0")[0] == 400
        assert raw(zun, "GET", f"/v1/containers?marker={uuid.uuid4()}")[0] == 404
        # another project sees none of them; an admin sees them with all_projects
        assert raw(zun, "GET", "/v1/containers", token="t2")[2]["containers"] == []
        everything = raw(zun, "GET", "/v1/containers?all_projects=1", token="admin-token")[2]
        assert len(everything["containers"]) == 5
        assert raw(zun, "GET", "/v1/containers?all_projects=1")[0] == 403

    def test_state_rules_and_force_is_admin_only(self, zun: ZunAPIService) -> None:
        status, headers, created = raw(zun, "POST", "/v1/containers?run=true",
                                       body={"image": "cirros"})
        assert status == 202 and created["status"] == "Creating"
        assert headers["Location"].endswith(created["uuid"])
        cid = created["uuid"]
        status, _, body = raw(zun, "POST", f"/v1/containers/{cid}/pause")
        assert status == 409
        assert body["errors"][0]["code"] == "container.invalid-state-exception"
        wait_until(lambda: raw(zun, "GET", f"/v1/containers/{cid}")[2]["status"] == "Running",
                   5, what="Running")
        assert raw(zun, "DELETE", f"/v1/containers/{cid}")[0] == 409
        assert raw(zun, "DELETE", f"/v1/containers/{cid}?force=true")[0] == 403
        assert raw(zun, "POST", f"/v1/containers/{cid}/stop?timeout=None")[0] == 400
        assert raw(zun, "POST", f"/v1/containers/{cid}/pause")[0] == 202
        assert raw(zun, "POST", f"/v1/containers/{cid}/pause")[0] == 409
        assert raw(zun, "DELETE", f"/v1/containers/{cid}?stop=true")[0] == 409  # Paused
        assert raw(zun, "DELETE", f"/v1/containers/{cid}?force=true",
                   token="admin-token")[0] == 409  # Paused is not force-deletable either
        assert raw(zun, "POST", f"/v1/containers/{cid}/unpause")[0] == 202
        assert raw(zun, "DELETE", f"/v1/containers/{cid}?force=true",
                   token="admin-token")[0] == 204
        wait_until(lambda: raw(zun, "GET", f"/v1/containers/{cid}")[0] == 404, 5,
                   what="the container to disappear")

    def test_privileged_is_forbidden_even_when_false(self, zun: ZunAPIService) -> None:
        status, _, body = raw(zun, "POST", "/v1/containers",
                              body={"image": "cirros", "privileged": False})
        assert status == 403
        assert body["errors"][0]["code"] == "container.policy-not-authorized"

    def test_quota_is_403(self, zun: ZunAPIService) -> None:
        zun.faults(quota_cpu=2)
        assert raw(zun, "POST", "/v1/containers", body={"image": "cirros", "cpu": 2})[0] == 202
        status, _, body = raw(zun, "POST", "/v1/containers", body={"image": "cirros"})
        assert status == 403 and body["errors"][0]["code"] == "container.over-quota"

    def test_injected_server_errors_have_zuns_shape(self, zun: ZunAPIService) -> None:
        zun.faults(fail_next=1, fail_status=503)
        status, _, body = raw(zun, "GET", "/v1/containers")
        assert status == 503
        err = body["errors"][0]
        assert err["code"] == "container." and "Correlation id" in err["detail"]
        assert raw(zun, "GET", "/v1/containers")[0] == 200


# -- the driver: mapping, delivery, paging ------------------------------------------------


class TestZunDriver:
    def test_request_mapping_reaches_zun(self, zun: ZunAPIService, driver: Any) -> None:
        files = {"/etc/octavia/amphora-agent.conf": b"[amphora_agent]\nagent_server_ca=x\n",
                 "/etc/octavia/certs/server.pem": b"-----BEGIN CERT-----\n"}
        req = request("amp-map-1", flavor="amp.small",
                      image=ImageRef(tag="amphora"), ssh_keys=("ssh-ed25519 AAAAC3 op@x",),
                      security_groups=("lb-mgmt-sec-grp",), network_ids=("lb-mgmt-net",),
                      port_ids=("6c5a9e9e-0d1f-4c1f-9c70-6f1c2b0e9d11",),
                      availability_zone="az1", server_group="sg-1",
                      config_drive_files=files, user_data=b"#cloud-config\nruncmd: []\n",
                      idempotency_key="lb-1-amp-0", metadata={"lb": "lb-1"})
        cid = driver.build(req)
        rec = zun.container(cid)
        assert rec is not None
        assert rec["image"] == "octavia/amphora-haproxy:2.8"
        assert (rec["cpu"], rec["memory"], rec["disk"]) == (0.5, "256", 2)
        assert rec["hostname"] == "amp-map-1" and rec["name"] == "amp-map-1"
        assert rec["security_groups"] == ["lb-mgmt-sec-grp"]
        assert rec["nets"] == [{"network": "lb-mgmt-net"},
                               {"port": "6c5a9e9e-0d1f-4c1f-9c70-6f1c2b0e9d11"}]
        assert rec["availability_zone"] == "az1" and rec["hints"] == {"group": "sg-1"}
        assert rec["restart_policy"] == {"Name": "unless-stopped", "MaximumRetryCount": "0"}
        labels = rec["labels"]
        assert labels["amphora-compute.managed"] == "true"
        assert labels["amphora-compute.idempotency-key"] == "lb-1-amp-0"
        assert labels["lb"] == "lb-1" and labels["amphora-compute.flavor"] == "amp.small"
        mounts = {m["destination"]: base64.b64decode(m["content_b64"]) for m in rec["mounts"]}
        assert all(m["type"] == "bind" for m in rec["mounts"])
        for path, content in files.items():
            assert mounts[path] == content
        assert mounts["/root/.ssh/authorized_keys"] == b"ssh-ed25519 AAAAC3 op@x\n"
        assert mounts["/var/lib/cloud/seed/nocloud/user-data"] == req.user_data
        assert b"instance-id: amp-map-1" in mounts["/var/lib/cloud/seed/nocloud/meta-data"]
        assert rec["environment"]["AMPHORA_USER_DATA"] == "/var/lib/cloud/seed/nocloud/user-data"
        amphora = wait_for_status(driver, cid, AmphoraStatus.ACTIVE, 10)
        assert amphora.flavor == "amp.small" and amphora.availability_zone == "az1"
        assert amphora.addresses and amphora.extra["server_group"] == "sg-1"

    @pytest.mark.parametrize("bad, field", [
        ({"flavor": "no.such.flavor"}, "flavor"),
        ({"image": ImageRef(tag="no-such-tag")}, "image_tag"),
        ({"key_name": "octavia-ssh-key"}, "key_name"),
        ({"image": None}, "image"),
        ({"config_drive_files": {"/root/.ssh/authorized_keys": b"x"},
          "ssh_keys": ("ssh-ed25519 AAAA x",)}, "ssh_keys"),
    ])
    def test_requests_zun_cannot_take_fail_before_any_call(
            self, zun: ZunAPIService, driver: Any, bad: dict[str, Any], field: str) -> None:
        zun.clear_stats()
        with pytest.raises(InvalidRequestError) as info:
            driver.build(request(**bad))
        assert info.value.field == field
        assert zun.stats() == {}

    def test_statuses_pages_the_list_not_one_get_per_id(self, zun: ZunAPIService) -> None:
        from amphora_compute.drivers.zun.driver import ZunDriver

        d = ZunDriver(options(zun, page_size=5))
        ids = [d.build(request()) for _ in range(12)]
        zun.clear_stats()
        unknown = str(uuid.uuid4())
        answer = d.statuses([*ids, unknown])
        assert set(answer) == {*ids, unknown}
        assert answer[unknown].status is AmphoraStatus.DELETED
        assert all(answer[i].status in (AmphoraStatus.BUILDING, AmphoraStatus.ACTIVE)
                   for i in ids)
        stats = zun.stats()
        assert stats.get("GET /v1/containers") == 3  # 5 + 5 + 2: three pages
        assert "GET /v1/containers/{id}" not in stats
        zun.clear_stats()
        assert {a.id for a in d.list()} == set(ids)
        assert zun.stats() == {"GET /v1/containers": 3}
        d.close()

    def test_paging_when_zun_caps_pages_below_page_size(self, tmp_path: Path) -> None:
        from amphora_compute.drivers.zun.driver import ZunDriver

        service = _start(tmp_path, "--max-limit", "4")
        try:
            d = ZunDriver(options(service, page_size=5))
            ids = [d.build(request()) for _ in range(11)]
            answer = d.statuses(ids)
            assert all(answer[i].status is not AmphoraStatus.DELETED for i in ids)
            assert {a.id for a in d.list()} == set(ids)
            d.close()
        finally:
            service.stop()

    def test_a_few_ids_use_gets_by_id(self, zun: ZunAPIService, driver: Any) -> None:
        ids = [driver.build(request()) for _ in range(2)]
        zun.clear_stats()
        driver.statuses(ids)
        assert zun.stats() == {"GET /v1/containers/{id}": 2}

    def test_error_shows_zuns_reason_and_is_deletable(self, zun: ZunAPIService,
                                                      driver: Any) -> None:
        cid = driver.build(request(image=ImageRef(id="error/no-such-image")))
        amphora = wait_for_status(driver, cid, AmphoraStatus.ERROR, 10)
        assert amphora.raw_status == "Error"
        assert "pull access denied for error/no-such-image" in (amphora.fault or "")
        driver.delete(cid)
        wait_for_status(driver, cid, AmphoraStatus.DELETED, 10)

    def test_error_by_knob_with_a_custom_reason(self, zun: ZunAPIService, driver: Any) -> None:
        zun.faults(error_images={"cirros:broken": "No valid host was found. There are not "
                                                  "enough hosts available."})
        cid = driver.build(request(image=ImageRef(id="cirros:broken")))
        amphora = wait_for_status(driver, cid, AmphoraStatus.ERROR, 10)
        assert amphora.fault and amphora.fault.startswith("No valid host")

    def test_delete_of_a_paused_container(self, zun: ZunAPIService, driver: Any) -> None:
        cid = driver.build(request())
        wait_for_status(driver, cid, AmphoraStatus.ACTIVE, 10)
        driver.suspend(cid)
        assert driver.status(cid) is AmphoraStatus.SUSPENDED
        driver.delete(cid)
        wait_for_status(driver, cid, AmphoraStatus.DELETED, 10)

    def test_delete_while_creating_waits_without_admin(self, zun: ZunAPIService,
                                                       driver: Any) -> None:
        zun.faults(create_delay=0.6)
        cid = driver.build(request())
        assert driver.statuses([cid])[cid].raw_status == "Creating"
        driver.delete(cid)
        wait_for_status(driver, cid, AmphoraStatus.DELETED, 10)
        assert zun.stats().get("DELETE /v1/containers/{id}") == 1

    def test_force_delete_with_admin_credentials(self, zun: ZunAPIService,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        from amphora_compute.drivers.zun.driver import ZunDriver

        monkeypatch.setenv("ZUN_TEST_TOKEN", "admin-token")
        d = ZunDriver(options(zun, auth_type="token", token_env="ZUN_TEST_TOKEN",
                              force_delete=True))
        zun.faults(create_delay=5.0)
        cid = d.build(request())
        d.delete(cid)  # Creating: not deletable with stop, so force (admin)
        wait_for_status(d, cid, AmphoraStatus.DELETED, 3)
        d.close()

    def test_force_delete_without_admin_is_a_caller_error(
            self, zun: ZunAPIService, monkeypatch: pytest.MonkeyPatch) -> None:
        from amphora_compute.drivers.zun.driver import ZunDriver

        monkeypatch.setenv("ZUN_TEST_TOKEN", "member-token")
        d = ZunDriver(options(zun, auth_type="token", token_env="ZUN_TEST_TOKEN",
                              force_delete=True))
        zun.faults(create_delay=5.0)
        cid = d.build(request())
        with pytest.raises(DeleteFailed) as info:
            d.delete(cid)
        assert info.value.caller_error and "403" in str(info.value)
        zun.faults(create_delay=0.2)
        d.close()

    def test_suspend_waits_for_zuns_asynchronous_pause(self, zun: ZunAPIService,
                                                       driver: Any) -> None:
        cid = driver.build(request())
        wait_for_status(driver, cid, AmphoraStatus.ACTIVE, 10)
        zun.faults(action_delay=0.3)
        driver.suspend(cid)
        assert driver.status(cid) is AmphoraStatus.SUSPENDED
        driver.resume(cid)
        assert driver.status(cid) is AmphoraStatus.ACTIVE
        with pytest.raises(NotSuspendedError):
            driver.resume(cid)

    def test_a_stopped_container_is_suspended_and_resumes(self, zun: ZunAPIService,
                                                          driver: Any) -> None:
        cid = driver.build(request())
        wait_for_status(driver, cid, AmphoraStatus.ACTIVE, 10)
        raw(zun, "POST", f"/v1/containers/{cid}/stop", token="notused")  # noauth's token
        assert driver.status(cid) is AmphoraStatus.SUSPENDED
        driver.resume(cid)
        assert driver.status(cid) is AmphoraStatus.ACTIVE

    def test_containers_not_built_here_are_left_alone(self, zun: ZunAPIService,
                                                      driver: Any) -> None:
        status, _, other = raw(zun, "POST", "/v1/containers?run=true",
                               body={"image": "cirros", "name": "someone-else"},
                               token="notused")
        assert status == 202
        with pytest.raises(InstanceNotFoundError):
            driver.get_amphora(amphora_id=other["uuid"])
        with pytest.raises(InvalidRequestError):
            driver.delete(other["uuid"])
        assert other["uuid"] not in {a.id for a in driver.list()}
        assert zun.container(other["uuid"]) is not None

    def test_validate_flavor_and_availability_zone(self, driver: Any) -> None:
        driver.validate_flavor("amp.small")
        with pytest.raises(InvalidRequestError):
            driver.validate_flavor("m1.huge")
        driver.validate_availability_zone("nova")
        with pytest.raises(InvalidRequestError):
            driver.validate_availability_zone("mars-1")

    def test_no_secret_reaches_a_log_line_even_encoded(
            self, driver: Any, caplog: pytest.LogCaptureFixture) -> None:
        secret = "zun-s3cr3t-" + uuid.uuid4().hex
        caplog.set_level(logging.DEBUG)
        driver.build(request(user_data=f"#!/bin/sh\necho {secret}\n".encode(),
                             config_drive_files={"/etc/amphora/key.pem": secret.encode()},
                             ssh_keys=(f"ssh-ed25519 AAAA {secret}",)))
        assert "keystoneauth" in caplog.text or "REQ" in caplog.text or caplog.records
        encoded = base64.b64encode(secret.encode()).decode()[:16]
        assert secret not in caplog.text
        assert encoded not in caplog.text


# -- faults: 5xx, slow answers, dropped connections, a dead server, the breaker -------------


class TestZunFaults:
    def test_a_transient_5xx_on_a_read_is_retried_once(self, zun: ZunAPIService,
                                                       driver: Any) -> None:
        cid = driver.build(request())
        zun.faults(fail_next=1, fail_match="GET /v1/containers/")
        zun.clear_stats()
        assert driver.get_amphora(amphora_id=cid).id == cid
        assert zun.stats()["GET /v1/containers/{id}"] == 2

    def test_persistent_5xx_is_a_translated_backend_error(self, zun: ZunAPIService,
                                                          driver: Any) -> None:
        from zunclient.common.apiclient.exceptions import HttpError

        cid = driver.build(request())
        zun.faults(fail_next=100, fail_status=500)
        with pytest.raises(BackendUnavailableError) as info:
            driver.statuses([cid])
        assert not info.value.caller_error
        assert isinstance(info.value.__cause__, HttpError)

    def test_a_5xx_build_is_not_retried(self, zun: ZunAPIService, driver: Any) -> None:
        zun.faults(fail_next=1, fail_match="POST /v1/containers", fail_status=503)
        zun.clear_stats()
        with pytest.raises(AmphoraBuildError) as info:
            driver.build(request())
        assert not info.value.caller_error
        assert zun.stats()["POST /v1/containers"] == 1
        assert zun.containers() == []

    def test_quota_refusal_is_a_caller_error(self, zun: ZunAPIService, driver: Any) -> None:
        zun.faults(quota_containers=0)
        with pytest.raises(AmphoraBuildError) as info:
            driver.build(request())
        assert info.value.caller_error and "Quota exceeded" in str(info.value)

    def test_slow_answers_hit_the_timeout(self, zun: ZunAPIService) -> None:
        from amphora_compute.drivers.zun.driver import ZunDriver

        d = ZunDriver(options(zun, timeout=0.3, read_retries=0))
        zun.faults(delay=1.0)
        with pytest.raises(BackendUnavailableError) as info:
            d.statuses([str(uuid.uuid4())])
        assert info.value.__cause__ is not None
        assert type(info.value.__cause__).__module__.startswith("keystoneauth1")
        d.close()

    def test_dropped_connections_are_backend_errors(self, zun: ZunAPIService,
                                                    driver: Any) -> None:
        zun.faults(drop_next=5)
        with pytest.raises(BackendUnavailableError):
            driver.list()

    def test_killed_server_gives_translated_errors_and_opens_the_breaker(
            self, tmp_path: Path) -> None:
        service = _start(tmp_path)
        config = Config(types={**Config().types, AmphoraType.CONTAINER: "zun"},
                        backends={"zun": options(service, read_retries=0, timeout=2.0)},
                        breaker=BreakerSettings(fail_max=3, reset_timeout=0.5))
        dispatcher = Dispatcher(config)
        try:
            cid = dispatcher.build(request())
            assert dispatcher.statuses([cid])[cid].status is not AmphoraStatus.DELETED
            for _ in range(5):  # caller errors never trip the breaker
                with pytest.raises(InstanceNotFoundError):
                    dispatcher.driver("container").get_amphora(amphora_id=str(uuid.uuid4()))
                with pytest.raises(InvalidRequestError):
                    dispatcher.build(request(flavor="no.such.flavor"))
            assert dispatcher.breakers.is_closed("backend:zun")

            service.kill()
            failures = []
            for _ in range(3):
                with pytest.raises(AmphoraComputeError) as info:
                    dispatcher.statuses([cid])
                failures.append(info.value)
            assert all(isinstance(f, BackendUnavailableError) for f in failures)
            assert all(type(f.__cause__).__module__.startswith("keystoneauth1")
                       for f in failures)
            with pytest.raises(CircuitOpenError) as opened:
                dispatcher.statuses([cid])
            assert opened.value.retry_at is not None
            assert not dispatcher.breakers.is_closed("backend:zun")

            service.start()  # back (empty, as after a crash); the breaker lets a probe in
            time.sleep(0.6)
            assert dispatcher.statuses([cid])[cid].status is AmphoraStatus.DELETED
            assert dispatcher.breakers.info("backend:zun").state == "closed"
        finally:
            dispatcher.close()
            service.stop()


# -- the CLI, end to end ------------------------------------------------------------------


def _amphora(*args: str, config: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_amphora(*args, config=config, timeout=timeout)


class TestZunCLI:
    @pytest.fixture
    def cli_config(self, zun: ZunAPIService, tmp_path: Path) -> Path:
        path = tmp_path / "amphora.toml"
        path.write_text(
            '[types]\ncontainer = "zun"\n\n'
            f'[backends.zun]\nendpoint = "{zun.endpoint}"\ntimeout = 5.0\n'
            'default_image = "octavia/amphora-haproxy:2.8"\n\n'
            '[backends.zun.flavors."amp.small"]\nvcpus = 0.5\nram_mb = 256\n')
        return path

    def test_build_wait_show_delete(self, zun: ZunAPIService, cli_config: Path) -> None:
        help_run = _amphora("--help", config=cli_config)
        if help_run.returncode != 0:
            pytest.fail(f"amphora --help failed: {help_run.stderr}")
        built = _amphora("build", "--type", "container", "--name", "cli-amp-1", "--flavor",
                         "amp.small", "--wait", "--format", "json", config=cli_config)
        assert built.returncode == 0, built.stderr
        answer = json.loads(built.stdout)
        record = answer.get("amphora", answer)
        assert answer["status"] == "ACTIVE" and record["backend"] == "zun"
        assert record["raw_status"] == "Running"
        cid = answer["id"]
        stored = zun.container(cid)
        assert stored is not None and stored["image"] == "octavia/amphora-haproxy:2.8"
        assert (stored["cpu"], stored["memory"]) == (0.5, "256")
        shown = _amphora("show", cid, "--format", "json", config=cli_config)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["name"] == "cli-amp-1"
        deleted = _amphora("delete", cid, config=cli_config)
        assert deleted.returncode == 0, deleted.stderr
        wait_until(lambda: zun.container(cid) is None, 10, what="the container to go")
        again = _amphora("delete", cid, config=cli_config)
        assert again.returncode == 0, again.stderr
