"""The dispatcher: routing by type and by id, lazy drivers, breakers per backend."""

from __future__ import annotations

import sys
import threading
import uuid

import pytest

from amphora_compute import AmphoraStatus, AmphoraType, BuildRequest, Dispatcher
from amphora_compute.config import BreakerSettings, Config, parse_config
from amphora_compute.errors import (
    AmphoraBuildError,
    BackendUnavailableError,
    CircuitOpenError,
    InstanceNotFoundError,
)

HEAVY = ("openstack", "zunclient", "ironicclient", "netmiko", "paramiko")


def _config(tmp_path, **backends) -> Config:
    state = str(tmp_path / "noop.json")
    data = {"backends": {name: {"state_file": state, **opts} for name, opts in
                         {"noop-vm": {}, "noop-container": {}, "noop-baremetal": {},
                          "noop-hardware-lb": {}, **backends}.items()}}
    return parse_config(data)


def test_each_type_goes_to_its_backend_and_later_calls_route_by_id(tmp_path) -> None:
    with Dispatcher(_config(tmp_path)) as dispatcher:
        ids = {t: dispatcher.build(BuildRequest(name=f"r-{t.value.replace('_', '-')}",
                                                amphora_type=t)) for t in AmphoraType}
        records = dispatcher.statuses(list(ids.values()))
        for amphora_type, amphora_id in ids.items():
            assert records[amphora_id].backend == f"noop-{amphora_type.value}".replace(
                "_", "-")
            assert records[amphora_id].amphora_type is amphora_type
        dispatcher.suspend(ids[AmphoraType.BAREMETAL])
        assert dispatcher.status(ids[AmphoraType.BAREMETAL]) is AmphoraStatus.SUSPENDED


def test_a_second_dispatcher_finds_ids_it_never_built(tmp_path) -> None:
    """Another process (or `amphora show`) never has to name the backend."""
    config = _config(tmp_path)
    with Dispatcher(config) as first:
        amphora_id = first.build(BuildRequest(name="elsewhere",
                                              amphora_type=AmphoraType.CONTAINER))
    with Dispatcher(config) as second:
        record = second.get_amphora(amphora_id=amphora_id)
        assert record.backend == "noop-container"
        second.delete(amphora_id)
        assert second.statuses([amphora_id])[amphora_id].status is AmphoraStatus.DELETED


def test_delete_of_an_id_no_backend_has_is_success(tmp_path) -> None:
    with Dispatcher(_config(tmp_path)) as dispatcher:
        dispatcher.delete(str(uuid.uuid4()))
        with pytest.raises(InstanceNotFoundError):
            dispatcher.get_amphora(amphora_id=str(uuid.uuid4()))


def test_constructing_a_dispatcher_imports_no_backend_library() -> None:
    import subprocess

    code = ("import sys, amphora_compute as a; d = a.Dispatcher(); "
            "d.build(a.BuildRequest(name='x')); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_an_open_breaker_refuses_without_touching_the_backend(tmp_path) -> None:
    config = _config(tmp_path, **{"noop-vm": {"failure_rate": 1.0,
                                              "fail_operations": ["build"]}})
    config = Config(types=config.types, backends=config.backends,
                    breaker=BreakerSettings(fail_max=2, reset_timeout=60))
    with Dispatcher(config) as dispatcher:
        for _ in range(2):
            with pytest.raises(BackendUnavailableError):
                dispatcher.build(BuildRequest(name="x"))
        driver = dispatcher.driver(AmphoraType.VM)
        calls_before = len(driver.calls)  # type: ignore[attr-defined]
        with pytest.raises(CircuitOpenError):
            dispatcher.build(BuildRequest(name="x"))
        assert len(driver.calls) == calls_before  # type: ignore[attr-defined]
        # The other backends are unaffected.
        dispatcher.build(BuildRequest(name="y", amphora_type=AmphoraType.CONTAINER))
        states = {b["name"]: b["state"] for b in dispatcher.breaker_snapshot()}
        assert states["backend:noop-vm"] == "open"
        assert states["backend:noop-container"] == "closed"


def test_not_found_does_not_count_against_the_breaker(tmp_path) -> None:
    config = Config(types=_config(tmp_path).types, backends=_config(tmp_path).backends,
                    breaker=BreakerSettings(fail_max=1, reset_timeout=60))
    with Dispatcher(config) as dispatcher:
        amphora_id = dispatcher.build(BuildRequest(name="nf"))
        dispatcher.delete(amphora_id)
        for _ in range(3):
            with pytest.raises(InstanceNotFoundError):
                dispatcher.get_amphora(amphora_id=amphora_id)
        assert all(b["state"] == "closed" for b in dispatcher.breaker_snapshot())


def test_same_idempotency_key_from_many_threads_builds_once(tmp_path) -> None:
    with Dispatcher(_config(tmp_path)) as dispatcher:
        results: list[str] = []
        lock = threading.Lock()

        def build() -> None:
            amphora_id = dispatcher.build(BuildRequest(name="once", idempotency_key="k-1"))
            with lock:
                results.append(amphora_id)

        threads = [threading.Thread(target=build) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(results) == 8 and len(set(results)) == 1
        assert len(dispatcher.list(AmphoraType.VM)) == 1


def test_fail_nth_build_knob(tmp_path) -> None:
    with Dispatcher(_config(tmp_path, **{"noop-vm": {"fail_build_nth": 2}})) as dispatcher:
        dispatcher.build(BuildRequest(name="first"))
        with pytest.raises(AmphoraBuildError):
            dispatcher.build(BuildRequest(name="second"))
        dispatcher.build(BuildRequest(name="third"))


def test_close_closes_every_constructed_driver(tmp_path) -> None:
    dispatcher = Dispatcher(_config(tmp_path))
    dispatcher.build(BuildRequest(name="c"))
    closed: list[str] = []
    driver = dispatcher.driver(AmphoraType.VM)
    driver.close = lambda: closed.append("vm")  # type: ignore[method-assign]
    dispatcher.close()
    assert closed == ["vm"]
