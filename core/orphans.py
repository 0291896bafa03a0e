"""Orphans: amphorae the backends have that the controller has lost track of.

Why: a build can slip through every guard (a controller killed between the
backend's answer and its own database write, a failed build whose cleanup
died with its worker).  Operators ask for one command that finds such
amphorae and, only when told to, deletes them (USER-NEEDS: "an orphans CLI,
dry-run by default").  The backends' ``list`` already returns only what this
project built (tags, labels, allocation markers, device slots), so an orphan is:

* given the ids the controller knows (``known``): any amphora not among them;
* without them: an amphora in ERROR (a failed build nobody cleaned up).  An
  ERROR amphora the controller knows is the controller's to handle (its
  failover deletes it), so with ``known`` it is not flagged.

Never flagged: an amphora younger than ``min_age`` (it may be a build whose id
the controller has not stored yet), and, for deletion, one whose age the
backend does not report (``age_unknown``: shown, never deleted by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .enums import AmphoraStatus
from .models import Amphora

#: Default minimum age (s): longer than any controller takes to record a build's id.
DEFAULT_MIN_AGE = 600.0


@dataclass(frozen=True, slots=True)
class Orphan:
    """One amphora found by ``find_orphans`` and why."""

    amphora: Amphora
    reason: str
    age_s: float | None

    @property
    def age_unknown(self) -> bool:
        return self.age_s is None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.amphora.id, "name": self.amphora.name,
                "type": self.amphora.amphora_type.value, "backend": self.amphora.backend,
                "status": self.amphora.status.value, "age_s": self.age_s,
                "reason": self.reason}


def find_orphans(amphorae: Iterable[Amphora], known: set[str] | None, *,
                 min_age: float = DEFAULT_MIN_AGE,
                 now: datetime | None = None) -> list[Orphan]:
    """The orphans among ``amphorae`` (see the module docstring), oldest first."""
    moment = now or datetime.now(UTC)
    found: list[Orphan] = []
    for amphora in amphorae:
        if amphora.status is AmphoraStatus.DELETED:
            continue
        age = None if amphora.created_at is None else max(
            0.0, (moment - _aware(amphora.created_at)).total_seconds())
        if age is not None and age < min_age:
            continue
        if known is not None:
            if amphora.id in known:
                continue
            reason = "not known to the controller"
        elif amphora.status is AmphoraStatus.ERROR:
            reason = f"ERROR: {amphora.fault or 'no fault given'}"
        else:
            continue
        found.append(Orphan(amphora, reason, None if age is None else round(age, 1)))
    return sorted(found, key=lambda o: (o.age_s is None, -(o.age_s or 0.0)))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
