"""find_orphans: which amphorae the controller lost track of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from amphora_compute.enums import AmphoraStatus, AmphoraType
from amphora_compute.models import Amphora
from amphora_compute.orphans import find_orphans

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def amp(amphora_id: str, age_s: float | None, status: AmphoraStatus = AmphoraStatus.ACTIVE,
        fault: str | None = None) -> Amphora:
    created = None if age_s is None else NOW - timedelta(seconds=age_s)
    return Amphora(id=amphora_id, name=amphora_id, amphora_type=AmphoraType.VM,
                   backend="nova", status=status, fault=fault, created_at=created)


FLEET = [amp("known-old", 3600), amp("lost-old", 7200), amp("lost-young", 30),
         amp("lost-ageless", None), amp("failed", 3600, AmphoraStatus.ERROR, "No valid host"),
         amp("gone", 7200, AmphoraStatus.DELETED)]


def test_with_known_ids_every_other_old_amphora_is_an_orphan() -> None:
    found = find_orphans(FLEET, {"known-old", "failed"}, min_age=600, now=NOW)
    assert [o.amphora.id for o in found] == ["lost-old", "lost-ageless"]  # oldest first
    assert found[0].reason == "not known to the controller" and found[0].age_s == 7200
    assert found[1].age_unknown


def test_without_known_ids_only_error_amphorae_are_orphans() -> None:
    found = find_orphans(FLEET, None, min_age=600, now=NOW)
    assert [(o.amphora.id, o.reason) for o in found] == [("failed", "ERROR: No valid host")]


def test_min_age_zero_includes_builds_in_flight() -> None:
    found = find_orphans(FLEET, set(), min_age=0, now=NOW)
    assert {o.amphora.id for o in found} == {"known-old", "lost-old", "lost-young",
                                             "lost-ageless", "failed"}  # never DELETED ones


def test_naive_times_are_taken_as_utc() -> None:
    naive = Amphora(id="n", name=None, amphora_type=AmphoraType.VM, backend="x",
                    status=AmphoraStatus.ACTIVE,
                    created_at=(NOW - timedelta(seconds=900)).replace(tzinfo=None))
    assert [o.age_s for o in find_orphans([naive], set(), min_age=600, now=NOW)] == [900]
