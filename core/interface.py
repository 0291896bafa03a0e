"""``AmphoraComputeDriver``: the contract every backend implements (the spec's base class).

The docstrings here are the specification.  A driver subclasses this class,
sets the ClassVars that say who it is and what it can do, and implements the
abstract methods.  The contract suite (``amphora_compute.testing``) runs
against every registered driver, and ``testing.signatures`` checks every
driver's public methods against the ones below.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .enums import AmphoraStatus, AmphoraType, Capability
from .errors import InvalidRequestError
from .models import Amphora, BuildRequest

if TYPE_CHECKING:
    from .breakers import BreakerRegistry

LOG = logging.getLogger(__name__)


class AmphoraComputeDriver(ABC):
    """Builds, watches, suspends and deletes amphorae of one type on one backend.

    Rules every implementation follows:

    * The constructor does no network I/O: connect lazily, release in ``close()``.
    * ``build`` returns as soon as the backend accepted the request; it never
      waits for ACTIVE (waiting is a separate, batched poll).
    * Every client-library exception is translated into the contract's errors
      (``amphora_compute.errors``) at the driver's edge, the original kept as
      ``__cause__``; 4xx-style caller errors carry ``caller_error=True`` so that
      breakers do not count them.
    * What the driver does not declare in ``capabilities`` raises
      ``NotImplementedError`` before any backend call.
    * Methods are thread-safe: a controller calls one driver from many threads.
    """

    #: The backend name used in config and plugin registration ("nova", "noop-vm", ...).
    backend_name: ClassVar[str]
    #: The one amphora type this driver builds.
    amphora_type: ClassVar[AmphoraType]
    #: Optional operations this driver supports.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: The backend's raw status -> normalized status (unknown values map to UNKNOWN).
    STATUS_MAP: ClassVar[Mapping[str, AmphoraStatus]] = {}
    #: True when the driver guards its own endpoints (one breaker per device, say);
    #: the dispatcher then does not wrap it in a backend-wide breaker.
    guards_own_breakers: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 breakers: BreakerRegistry | None = None) -> None:
        self.options: Mapping[str, Any] = dict(options or {})
        self.breakers = breakers

    # -- the contract -------------------------------------------------------

    @abstractmethod
    def build(self, request: BuildRequest) -> str:
        """Ask the backend for a new amphora; return its id once the backend accepted it.

        Never waits for ACTIVE.  When ``request.idempotency_key`` is set and an
        amphora built with that key exists, its id is returned and nothing new is
        built (a controller retrying after a lost answer must not double-build);
        ``find_by_idempotency_key`` is the lookup.
        :raises AmphoraBuildError: the backend refused or failed the build.
        :raises InvalidRequestError: the request does not fit this backend.
        """

    @abstractmethod
    def delete(self, amphora_id: str) -> None:
        """Delete the amphora.  Idempotent: one that is already gone is success (logged).

        :raises DeleteFailed: the backend refused or failed the delete.
        """

    def status(self, amphora_id: str) -> AmphoraStatus:
        """The amphora's normalized status.

        :raises InstanceNotFoundError: no such amphora.
        """
        return self.get_amphora(amphora_id=amphora_id).status

    @abstractmethod
    def statuses(self, amphora_ids: Sequence[str]) -> dict[str, Amphora]:
        """The records of many amphorae in O(1) backend requests per page.

        Every asked id is in the answer; one the backend no longer has is
        reported with status DELETED (``Amphora.deleted``), not as an error.
        """

    @abstractmethod
    def get_amphora(self, amphora_name: str | None = None,
                    amphora_id: str | None = None) -> Amphora:
        """Find one amphora by id or by name (the spec's ``get_amphora``).

        :raises InstanceNotFoundError: nothing matches.
        :raises InvalidRequestError: neither a name nor an id was given.
        """

    @abstractmethod
    def list(self) -> list[Amphora]:
        """Every amphora this project built on this backend (never a whole cloud)."""

    def suspend(self, amphora_id: str) -> None:
        """Stop the amphora without deleting it (power off, pause, disable the slot)."""
        raise self.unsupported("suspend")

    def resume(self, amphora_id: str) -> None:
        """Undo ``suspend``.

        :raises NotSuspendedError: the amphora is not suspended.
        """
        raise self.unsupported("resume")

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections and sessions.  Safe to call twice."""

    def find_by_idempotency_key(self, key: str) -> Amphora | None:
        """The amphora built with ``key``, if any.  Drivers override with a filtered query."""
        for amphora in self.list():
            if amphora.idempotency_key == key:
                return amphora
        return None

    # -- optional capabilities (Octavia's extras) -----------------------------

    def create_server_group(self, name: str, policy: str) -> str:
        """Create a server group with ``policy`` ("anti-affinity", ...); return its id."""
        raise self.unsupported("create_server_group")

    def delete_server_group(self, server_group_id: str) -> None:
        """Delete a server group; one that is already gone is success."""
        raise self.unsupported("delete_server_group")

    def attach_network_or_port(self, amphora_id: str, network_id: str | None = None,
                               ip_address: str | None = None,
                               port_id: str | None = None) -> dict[str, Any]:
        """Attach a network or port; return the new interface (port_id, network_id, fixed_ips)."""
        raise self.unsupported("attach_network_or_port")

    def detach_port(self, amphora_id: str, port_id: str) -> None:
        """Detach a port from the amphora; one already detached is success."""
        raise self.unsupported("detach_port")

    def validate_flavor(self, flavor: str) -> None:
        """Check that ``flavor`` exists on the backend.

        :raises InvalidRequestError: it does not.
        """
        raise self.unsupported("validate_flavor")

    def validate_availability_zone(self, availability_zone: str) -> None:
        """Check that the availability zone exists and is available.

        :raises InvalidRequestError: it does not.
        """
        raise self.unsupported("validate_availability_zone")

    # -- helpers for implementations -------------------------------------------

    @classmethod
    def unsupported(cls, operation: str) -> NotImplementedError:
        """The error for an operation this driver does not declare (raised before any call)."""
        return NotImplementedError(
            f"{operation} is not supported by the {cls.backend_name!r} driver "
            f"({cls.amphora_type.value} amphorae)")

    @classmethod
    def map_status(cls, raw: str | None) -> AmphoraStatus:
        """Look ``raw`` up in ``STATUS_MAP``; anything unexpected is UNKNOWN, never a KeyError."""
        if raw is None:
            return AmphoraStatus.UNKNOWN
        return cls.STATUS_MAP.get(raw, cls.STATUS_MAP.get(raw.lower(), AmphoraStatus.UNKNOWN))

    @staticmethod
    def require_lookup(amphora_name: str | None, amphora_id: str | None) -> None:
        """``get_amphora`` needs a name or an id."""
        if not amphora_name and not amphora_id:
            raise InvalidRequestError("give an amphora name or id", field="amphora_id")

    def existing_build(self, request: BuildRequest) -> str | None:
        """The id of an amphora already built with the request's idempotency key, if any."""
        if not request.idempotency_key:
            return None
        found = self.find_by_idempotency_key(request.idempotency_key)
        if found is not None and found.status is not AmphoraStatus.DELETED:
            LOG.info("%s: build with idempotency key %s already accepted as %s",
                     self.backend_name, request.idempotency_key, found.id)
            return found.id
        return None

    def check_request(self, request: BuildRequest) -> None:
        """Reject a request made for another amphora type (before any backend call)."""
        if request.amphora_type is not self.amphora_type:
            raise InvalidRequestError(
                f"the {self.backend_name!r} driver builds {self.amphora_type.value} amphorae, "
                f"not {request.amphora_type.value}", field="amphora_type")
