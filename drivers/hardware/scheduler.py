"""Where a new hardware amphora goes: the healthy device with the fewest amphorae.

A device is a candidate when its breaker lets calls through, its amphorae
could be counted, and it is below its capacity.  Among candidates the one
with the fewest amphorae wins (ties by name, so the choice is deterministic);
when none is left the error says, device by device, why (the sapcc F5 driver's
"empty candidate list" bug is the thing to avoid).  The counts are read from
the devices themselves (live slots only), never from a local cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from amphora_compute.errors import AmphoraBuildError


@dataclass(frozen=True, slots=True)
class DeviceLoad:
    """What the scheduler knows about one device at the time of a build."""

    name: str
    capacity: int
    amphorae: int | None = None
    #: Why the device cannot take an amphora (breaker open, unreachable...), if so.
    unavailable: str | None = None

    @property
    def eligible(self) -> bool:
        return (self.unavailable is None and self.amphorae is not None
                and self.amphorae < self.capacity)

    def why_not(self) -> str:
        if self.unavailable is not None:
            return self.unavailable
        if self.amphorae is None:
            return "amphorae could not be counted"
        return f"full ({self.amphorae}/{self.capacity})"


def order(loads: Sequence[DeviceLoad]) -> list[str]:
    """Eligible device names, best first (fewest amphorae, then name)."""
    eligible = [load for load in loads if load.eligible]
    eligible.sort(key=lambda load: (load.amphorae or 0, load.name))
    return [load.name for load in eligible]


def no_device_error(loads: Sequence[DeviceLoad], *, name: str) -> AmphoraBuildError:
    """The error when no device can take the amphora, saying why for each one."""
    if not loads:
        why = "no device is configured for this request"
    else:
        why = "; ".join(f"{load.name}: {load.why_not()}" for load in loads)
    return AmphoraBuildError(f"hardware: no device can take amphora {name!r} ({why})",
                             backend="hardware")
