"""napalm's idea, done properly: every registered driver's public surface matches the ABC."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from amphora_compute import Amphora, AmphoraComputeDriver, AmphoraType, BuildRequest, Capability
from amphora_compute.drivers.noop import NoopVMDriver
from amphora_compute.plugins import load_plugins
from amphora_compute.testing.signatures import check_driver_class

SPECS = load_plugins().registry.specs()


@pytest.mark.parametrize("spec", SPECS, ids=[s.backend for s in SPECS])
def test_every_registered_driver_matches_the_contract(spec) -> None:
    assert check_driver_class(spec.load()) == []


def test_every_built_in_backend_is_registered() -> None:
    assert {s.backend for s in SPECS} >= {
        "noop-vm", "noop-container", "noop-baremetal", "noop-hardware-lb",
        "nova", "zun", "ironic", "hardware"}


class _Drifted(NoopVMDriver):
    backend_name = "drifted"

    def build(self, request: BuildRequest, wait: bool = False) -> str:  # type: ignore[override]
        return "x"

    def statuses(self, amphora_ids: Sequence[str]) -> list[Amphora]:  # type: ignore[override]
        return []

    def get_amphora(self, amphora_id: str | None = None,  # type: ignore[override]
                    amphora_name: str | None = None) -> Amphora:
        raise NotImplementedError

    def reboot(self, amphora_id: str) -> None:
        """Public, not in the contract, not ex_: drift."""


class _Undeclared(NoopVMDriver):
    backend_name = "undeclared"
    capabilities = frozenset()  # claims nothing, which is fine ...


class _Overclaims(NoopVMDriver):
    backend_name = "overclaims"
    capabilities = frozenset(Capability)

    create_server_group = AmphoraComputeDriver.create_server_group  # the ABC's default


def test_the_check_reports_every_kind_of_drift() -> None:
    problems = "\n".join(check_driver_class(_Drifted))
    assert "build" in problems and "wait" in problems
    assert "statuses type hints differ" in problems
    assert "get_amphora" in problems  # parameter order swapped
    assert "reboot is public but not in the contract" in problems
    assert check_driver_class(_Undeclared) == []
    assert any("server_groups" in p for p in check_driver_class(_Overclaims))
    assert check_driver_class(int) == ["int is not an AmphoraComputeDriver subclass"]


def test_identity_classvars_are_checked() -> None:
    class NoType(NoopVMDriver):
        amphora_type = "vm"  # type: ignore[assignment]

    assert any("amphora_type" in p for p in check_driver_class(NoType))
    assert NoopVMDriver.amphora_type is AmphoraType.VM
