"""``DriverContract``: one test suite every driver passes (napalm's ``BaseTestGetters``).

Fixtures a subclass may override:

* ``compute_driver`` -- the driver under test (by default each registered Noop
  plugin, or the backends named with ``--amphora-driver``);
* ``amphora_request_factory`` -- ``make(name, **overrides) -> BuildRequest``
  valid for that backend (flavor, image...);
* ``contract_timeout`` -- seconds to wait for a status (default 30).

Every amphora a test builds is deleted at teardown, so a real backend is left
as it was found.  Nothing is skipped: what a driver declares it lacks must be
refused with ``NotImplementedError``, and anything it declares must work.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..enums import AmphoraStatus, AmphoraType, Capability
from ..errors import (
    AmphoraComputeError,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
)
from ..interface import AmphoraComputeDriver
from ..models import Amphora, BuildRequest
from .signatures import CAPABILITY_METHODS, check_driver_class

RequestFactory = Callable[..., BuildRequest]
PLANTED_SECRET = "s3cr3t-planted-4c0ffee"


def wait_for_status(driver: AmphoraComputeDriver, amphora_id: str, wanted: AmphoraStatus,
                    timeout: float) -> Amphora:
    """Poll ``statuses`` until ``wanted``; fail the test on ERROR or at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    record = None
    while time.monotonic() < deadline:
        record = driver.statuses([amphora_id])[amphora_id]
        if record.status is wanted:
            return record
        if record.status is AmphoraStatus.ERROR and wanted is not AmphoraStatus.ERROR:
            pytest.fail(f"{amphora_id} went to ERROR: {record.fault}")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    pytest.fail(f"{amphora_id} did not reach {wanted.value} within {timeout}s "
                f"(last: {record.status.value if record else 'nothing'})")


class _Tracker:
    """Remembers every amphora a test built, and deletes what is left at teardown."""

    def __init__(self, driver: AmphoraComputeDriver, make: RequestFactory) -> None:
        self.driver = driver
        self.make = make
        self.ids: list[str] = []

    def build(self, name: str | None = None, **overrides: Any) -> str:
        request = self.make(name or f"ct-{uuid.uuid4().hex[:10]}", **overrides)
        amphora_id = self.driver.build(request)
        self.ids.append(amphora_id)
        return amphora_id

    def cleanup(self) -> None:
        for amphora_id in self.ids:
            try:
                self.driver.delete(amphora_id)
            except AmphoraComputeError as exc:  # leave a trace, keep cleaning
                logging.getLogger(__name__).error("cleanup of %s failed: %s", amphora_id, exc)


class DriverContract:
    """The behaviour every ``AmphoraComputeDriver`` must show."""

    @pytest.fixture
    def amphora_request_factory(self, compute_driver: AmphoraComputeDriver) -> RequestFactory:
        def make(name: str, **overrides: Any) -> BuildRequest:
            overrides.setdefault("amphora_type", compute_driver.amphora_type)
            return BuildRequest(name=name, **overrides)

        return make

    @pytest.fixture
    def contract_timeout(self) -> float:
        return 30.0

    @pytest.fixture
    def amphorae(self, compute_driver: AmphoraComputeDriver,
                 amphora_request_factory: RequestFactory) -> Iterator[_Tracker]:
        tracker = _Tracker(compute_driver, amphora_request_factory)
        yield tracker
        tracker.cleanup()

    # -- identity and shape ----------------------------------------------------------

    def test_class_matches_the_contract(self, compute_driver: AmphoraComputeDriver) -> None:
        assert check_driver_class(type(compute_driver)) == []

    def test_status_map_values_are_normalized(self, compute_driver: AmphoraComputeDriver
                                              ) -> None:
        assert compute_driver.STATUS_MAP, "a driver must say how its states map"
        for raw, status in compute_driver.STATUS_MAP.items():
            assert isinstance(status, AmphoraStatus), raw
        assert compute_driver.map_status("no-such-state-xyz") is AmphoraStatus.UNKNOWN

    # -- lifecycle -----------------------------------------------------------------------

    def test_build_returns_at_once_and_becomes_active(
            self, compute_driver: AmphoraComputeDriver, amphorae: _Tracker,
            contract_timeout: float) -> None:
        name = f"ct-life-{uuid.uuid4().hex[:6]}"
        amphora_id = amphorae.build(name)
        assert isinstance(amphora_id, str) and amphora_id
        first = compute_driver.statuses([amphora_id])[amphora_id]
        assert first.status in (AmphoraStatus.BUILDING, AmphoraStatus.ACTIVE)
        record = wait_for_status(compute_driver, amphora_id, AmphoraStatus.ACTIVE,
                                 contract_timeout)
        assert record.id == amphora_id
        assert record.amphora_type is compute_driver.amphora_type
        assert record.backend == compute_driver.backend_name
        assert compute_driver.status(amphora_id) is AmphoraStatus.ACTIVE
        by_id = compute_driver.get_amphora(amphora_id=amphora_id)
        assert (by_id.id, by_id.name) == (amphora_id, name)
        assert compute_driver.get_amphora(amphora_name=name).id == amphora_id
        assert amphora_id in {a.id for a in compute_driver.list()}

    def test_delete_is_idempotent(self, compute_driver: AmphoraComputeDriver,
                                  amphorae: _Tracker, contract_timeout: float) -> None:
        amphora_id = amphorae.build()
        wait_for_status(compute_driver, amphora_id, AmphoraStatus.ACTIVE, contract_timeout)
        compute_driver.delete(amphora_id)
        compute_driver.delete(amphora_id)  # already deleting or gone: still success
        wait_for_status(compute_driver, amphora_id, AmphoraStatus.DELETED, contract_timeout)
        compute_driver.delete(amphora_id)  # long gone: success
        assert amphora_id not in {a.id for a in compute_driver.list()}
        with pytest.raises(InstanceNotFoundError):
            compute_driver.get_amphora(amphora_id=amphora_id)

    def test_unknown_amphora_is_not_found(self, compute_driver: AmphoraComputeDriver) -> None:
        unknown = str(uuid.uuid4())
        with pytest.raises(InstanceNotFoundError):
            compute_driver.get_amphora(amphora_id=unknown)
        with pytest.raises(InstanceNotFoundError):
            compute_driver.status(unknown)
        with pytest.raises(InstanceNotFoundError):
            compute_driver.get_amphora(amphora_name=f"never-built-{unknown[:8]}")
        compute_driver.delete(unknown)  # deleting what is not there is success

    def test_get_amphora_needs_a_name_or_an_id(self, compute_driver: AmphoraComputeDriver
                                               ) -> None:
        with pytest.raises(InvalidRequestError):
            compute_driver.get_amphora()

    def test_statuses_reports_every_id(self, compute_driver: AmphoraComputeDriver,
                                       amphorae: _Tracker, contract_timeout: float) -> None:
        ids = [amphorae.build() for _ in range(3)]
        unknown = str(uuid.uuid4())
        for amphora_id in ids:
            wait_for_status(compute_driver, amphora_id, AmphoraStatus.ACTIVE, contract_timeout)
        answer = compute_driver.statuses([*ids, unknown])
        assert set(answer) == {*ids, unknown}
        assert all(answer[i].status is AmphoraStatus.ACTIVE for i in ids)
        assert answer[unknown].status is AmphoraStatus.DELETED
        assert compute_driver.statuses([]) == {}

    def test_suspend_and_resume(self, compute_driver: AmphoraComputeDriver,
                                amphorae: _Tracker, contract_timeout: float) -> None:
        if Capability.SUSPEND not in compute_driver.capabilities:
            with pytest.raises(NotImplementedError):  # declared absent: refused, not faked
                compute_driver.suspend(str(uuid.uuid4()))
            return
        amphora_id = amphorae.build()
        wait_for_status(compute_driver, amphora_id, AmphoraStatus.ACTIVE, contract_timeout)
        with pytest.raises(NotSuspendedError):
            compute_driver.resume(amphora_id)
        compute_driver.suspend(amphora_id)
        wait_for_status(compute_driver, amphora_id, AmphoraStatus.SUSPENDED, contract_timeout)
        compute_driver.resume(amphora_id)
        wait_for_status(compute_driver, amphora_id, AmphoraStatus.ACTIVE, contract_timeout)
        with pytest.raises(NotSuspendedError):
            compute_driver.resume(amphora_id)

    def test_suspend_of_unknown_amphora_is_not_found(
            self, compute_driver: AmphoraComputeDriver) -> None:
        if Capability.SUSPEND not in compute_driver.capabilities:
            with pytest.raises(NotImplementedError):
                compute_driver.resume(str(uuid.uuid4()))
            return
        with pytest.raises(InstanceNotFoundError):
            compute_driver.suspend(str(uuid.uuid4()))

    def test_idempotency_key_never_double_builds(
            self, compute_driver: AmphoraComputeDriver, amphorae: _Tracker) -> None:
        key = f"idem-{uuid.uuid4().hex}"
        first = amphorae.build(idempotency_key=key)
        again = amphorae.build(idempotency_key=key)
        assert again == first
        other = amphorae.build(idempotency_key=f"idem-{uuid.uuid4().hex}")
        assert other != first

    # -- requests that must never reach the backend -------------------------------------

    def test_wrong_amphora_type_is_rejected(self, compute_driver: AmphoraComputeDriver,
                                            amphora_request_factory: RequestFactory) -> None:
        other = next(t for t in AmphoraType if t is not compute_driver.amphora_type)
        before = {a.id for a in compute_driver.list()}
        with pytest.raises(InvalidRequestError):
            compute_driver.build(amphora_request_factory("ct-wrong", amphora_type=other))
        assert {a.id for a in compute_driver.list()} == before

    @pytest.mark.parametrize("bad", [
        {"name": "bad;name"},
        {"name": "x" * 64},
        {"config_drive_files": {f"/etc/f{i}": b"x" for i in range(6)}},
        {"config_drive_files": {"/etc/big": b"x" * (10 * 1024 + 1)}},
        {"config_drive_files": {"relative/path": b"x"}},
        {"security_groups": ["$(id)"]},
    ], ids=["name-injection", "name-too-long", "six-files", "file-over-10k",
            "relative-path", "sec-group-injection"])
    def test_spec_limits_are_enforced_before_any_call(
            self, compute_driver: AmphoraComputeDriver,
            amphora_request_factory: RequestFactory, bad: dict[str, Any]) -> None:
        before = {a.id for a in compute_driver.list()}
        bad = dict(bad)  # parametrize values are shared between backends
        name = bad.pop("name", "ct-limits")
        with pytest.raises(InvalidRequestError) as info:
            compute_driver.build(amphora_request_factory(name, **bad))
        assert info.value.field
        assert {a.id for a in compute_driver.list()} == before

    def test_spec_limits_accept_the_maximum(self, compute_driver: AmphoraComputeDriver,
                                            amphorae: _Tracker) -> None:
        files = {f"/etc/amphora/f{i}": b"y" * (10 * 1024) for i in range(5)}
        amphora_id = amphorae.build(config_drive_files=files)
        assert compute_driver.statuses([amphora_id])[amphora_id].status in (
            AmphoraStatus.BUILDING, AmphoraStatus.ACTIVE)

    def test_unsupported_operations_raise_not_implemented(
            self, compute_driver: AmphoraComputeDriver) -> None:
        calls: dict[Capability, list[Callable[[], Any]]] = {
            Capability.SUSPEND: [lambda: compute_driver.suspend("x"),
                                 lambda: compute_driver.resume("x")],
            Capability.SERVER_GROUPS: [
                lambda: compute_driver.create_server_group("g", "anti-affinity"),
                lambda: compute_driver.delete_server_group("g")],
            Capability.ATTACH_NETWORK: [
                lambda: compute_driver.attach_network_or_port("x", network_id="n"),
                lambda: compute_driver.detach_port("x", "p")],
            Capability.VALIDATE_FLAVOR: [lambda: compute_driver.validate_flavor("f")],
            Capability.VALIDATE_AVAILABILITY_ZONE: [
                lambda: compute_driver.validate_availability_zone("az")],
        }
        missing = [c for c in calls if c not in compute_driver.capabilities]
        for method, capability in CAPABILITY_METHODS.items():
            if capability in compute_driver.capabilities:  # declared: really implemented
                assert getattr(type(compute_driver), method) is not \
                    getattr(AmphoraComputeDriver, method), method
        for capability in missing:
            for call in calls[capability]:
                with pytest.raises(NotImplementedError):
                    call()

    def test_no_secret_reaches_a_log_line(self, compute_driver: AmphoraComputeDriver,
                                          amphorae: _Tracker,
                                          caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        amphora_id = amphorae.build(
            user_data=f"#!/bin/sh\necho {PLANTED_SECRET}\n".encode(),
            config_drive_files={"/etc/amphora/secret.pem": PLANTED_SECRET.encode()})
        compute_driver.statuses([amphora_id])
        compute_driver.get_amphora(amphora_id=amphora_id)
        compute_driver.delete(amphora_id)
        assert PLANTED_SECRET not in caplog.text
