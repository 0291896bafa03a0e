"""``IronicDriver``: bare-metal amphorae on OpenStack Ironic through python-ironicclient.

Identity: an amphora's id is the **instance uuid** Ironic records on the node
(``node.instance_uuid``), which is the uuid of the allocation that claimed the
node.  It is what Nova would call the server id.  It is *not* the node uuid on
purpose: a node is reused by later deployments, so a node uuid would let an old
id (a controller's revert, a retried delete) reach a newer amphora on the same
machine; an instance uuid is unique per deployment.  The node's uuid and name
are in ``Amphora.extra``.

Build (``build`` returns once the claim is confirmed, never waiting for ``active``):

1. everything is validated and prepared first (resource class, image, root
   size, config drive); bad input raises InvalidRequestError before any call;
2. ``POST /v1/allocations`` claims a node atomically (resource class, traits,
   candidate nodes, owner; a few candidates from the driver's free-node list,
   ``candidates.py``, so Ironic need not load the whole pool, and the whole
   pool again if none of them is still free), with ``extra`` naming the amphora and its
   idempotency key; the allocation's uuid is ours, derived from the
   idempotency key when there is one, so a retried build answers 409 and is
   resolved to the first build's amphora (atomic across processes);
3. the allocation is polled until ``active`` (the first poll waits about as
   long as Ironic's recent claims took, then every ``claim_poll`` for half a
   second, then doubling up to 0.2 s);
   ``error`` (no free node) is AmphoraBuildError marked as a caller error
   (capacity says nothing about Ironic's health);
4. one PATCH sets ``instance_info`` (image source and checksum, root_gb,
   display name) and ``extra["amphora"]`` (id, name, image: what a status
   shows, without asking for the costly ``instance_info``), and the deploy
   starts with a config drive dict
   (``meta_data`` with the keys and name, ``user_data`` with the config-drive
   files as cloud-init write_files, ``network_data`` for ports).  With
   ``async_deploy`` (the default) step 4 runs on the driver's small thread
   pool, so ``build`` costs one POST and a few short GETs.

If step 4 fails, the allocation is released and the instance info and extra removed:
the node is left as it was, and the amphora reports ERROR with the reason.

Status (``STATUS_MAP`` on the provision state, then the power state):
deploying, wait call-back, deploy hold, rebuild -> BUILDING; a node claimed but
not yet deploying (still ``available``) -> BUILDING (ERROR after
``stale_claim`` s); active + power on -> ACTIVE; active + power off ->
SUSPENDED; deploy failed -> ERROR with ``last_error`` as the fault; no node
carrying the instance uuid (deleted, torn down) -> DELETED.

Batch status: one ``GET /v1/nodes?associated=True&resource_class=<rc>`` per
resource class of the pool and page, with only the fields needed (never
``conductor``, which makes Ironic answer 500); up to ``per_id_max`` ids use
``GET /v1/nodes?instance_uuid=<id>`` each instead.

Suspend/resume: power off/on (resume of a powered-on node raises
NotSuspendedError).  Delete: undeploy (``deleted``); Ironic removes the
allocation itself when the tear down ends; a claimed node that never started
deploying has its allocation released instead; an amphora already gone is
success.

Errors: every ironicclient / keystoneauth exception is translated at this edge
with ``amphora_compute.errors.from_http_status`` (404 -> not found, other 4xx
-> caller errors that do not count against the breaker, 5xx or no answer ->
BackendUnavailableError, which does), the original kept as ``__cause__``.
HTTP 409 (node locked, state in transition) is retried a bounded number of
times with backoff by tenacity: the only retry layer (ironicclient's own is
off, ``max_retries=0``).  A refused or reset connection is retried too, but
only where repeating the request is safe (GETs, and the claim POST, which
carries its own uuid and a nonce); a timeout never is.  ironicclient logs
every error of its (disabled) retry loop at ERROR ("Error contacting Ironic
server ... Attempt 1 of 1"), an expected 409 included; the driver demotes
exactly that line to DEBUG (``_DemoteClientRetryLog``): the exception itself
still reaches the driver, which translates and raises it, so nothing is hidden.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import tenacity
from ironicclient import client as ironic_client
from ironicclient.common import http as ironic_http
from ironicclient.common.apiclient import exceptions as ironic_exceptions
from keystoneauth1 import exceptions as ks_exceptions

from amphora_compute.enums import AmphoraStatus, AmphoraType, Capability
from amphora_compute.errors import (
    AmphoraBuildError,
    AmphoraComputeError,
    DeleteFailed,
    InstanceNotFoundError,
    InvalidRequestError,
    NotSuspendedError,
    from_http_status,
    http_status_of,
)
from amphora_compute.interface import AmphoraComputeDriver
from amphora_compute.lazy import Lazy
from amphora_compute.models import Amphora, BuildRequest

from .candidates import CandidateCache
from .configdrive import build_configdrive
from .options import BACKEND, IronicOptions

LOG = logging.getLogger(__name__)
#: keystoneauth logs request and response bodies at DEBUG, and a deploy request
#: carries the config drive (user data, keys): its own logger, never below INFO.
HTTP_LOG = logging.getLogger("amphora_compute.drivers.ironic.http")
HTTP_LOG.setLevel(logging.INFO)
T = TypeVar("T")


class _DemoteClientRetryLog(logging.Filter):
    """ironicclient's "Error contacting Ironic server ... Attempt 1 of 1" -> DEBUG.

    ironicclient's retry loop (off here: the driver retries) logs the error of
    its last attempt at ERROR before raising it, so every expected 409 (node
    locked, retried by the driver) printed an ERROR line.  The exception still
    reaches the driver, which translates it and raises it to the caller; only
    this one message is demoted, every other ironicclient line is untouched.
    """

    PREFIX = "Error contacting Ironic server"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and str(record.msg).startswith(self.PREFIX):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            # Handlers do not look at logger levels again: drop it unless DEBUG is on.
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def _demote_client_retry_log() -> None:
    client_log = logging.getLogger(ironic_http.__name__)
    if not any(isinstance(f, _DemoteClientRetryLog) for f in client_log.filters):
        client_log.addFilter(_DemoteClientRetryLog())


_demote_client_retry_log()

#: What ironicclient and keystoneauth raise; anything else is a bug and is not translated.
_CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    ironic_exceptions.ClientException, ks_exceptions.ClientException, OSError)
#: Marks an allocation (and so a node) as built by amphora-compute.
MARKER = "amphora_compute"
#: A per-POST nonce in the allocation's extra (see ``_post_allocation``).
CLAIM_NONCE = "amphora_claim"
#: Idempotency keys map onto allocation uuids in this namespace (uuid5).
KEY_NAMESPACE = uuid.UUID("6f1d9a52-3c1e-5a8e-9c43-1b7a5e0c2d41")
#: The node fields every status needs (``conductor`` must never be asked for).  Not
#: ``instance_info``: Ironic masks secrets in it node by node, which was a fifth of a
#: 100-node list; the amphora's name and image are in ``extra[NODE_EXTRA]`` instead.
NODE_FIELDS = ("uuid", "name", "instance_uuid", "provision_state", "power_state", "last_error",
               "resource_class", "extra")
#: The node ``extra`` key naming the amphora deployed on it: ``{"id", "name", "image"}``,
#: trusted only while ``id`` is the node's instance uuid (a torn-down node keeps it
#: until its next build overwrites it; Ironic clears only ``instance_info``).
NODE_EXTRA = "amphora"
#: Seconds after the claim POST during which the allocation is polled every ``claim_poll``.
CLAIM_FAST_POLLING = 0.5
_IN_DEPLOY = frozenset({"deploying", "wait call-back", "deploy hold", "rebuild", "deploy"})
_SUSPENDED_POWER = frozenset({"power off"})


class IronicDriver(AmphoraComputeDriver):
    """Bare-metal amphorae on Ironic (see the module docstring for the lifecycle)."""

    backend_name: ClassVar[str] = BACKEND
    amphora_type: ClassVar[AmphoraType] = AmphoraType.BAREMETAL
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.SUSPEND, Capability.CONFIG_DRIVE, Capability.IMAGE_TAGS,
        Capability.VALIDATE_FLAVOR})
    STATUS_MAP: ClassVar[Mapping[str, AmphoraStatus]] = {
        "available": AmphoraStatus.BUILDING,  # claimed, deploy not started yet
        "deploying": AmphoraStatus.BUILDING,
        "wait call-back": AmphoraStatus.BUILDING,
        "deploy hold": AmphoraStatus.BUILDING,
        "rebuild": AmphoraStatus.BUILDING,
        "active": AmphoraStatus.ACTIVE,  # SUSPENDED when powered off
        "deploy failed": AmphoraStatus.ERROR,
        "error": AmphoraStatus.ERROR,
        "deleting": AmphoraStatus.DELETED,
        "cleaning": AmphoraStatus.DELETED,
        "clean wait": AmphoraStatus.DELETED,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 breakers: Any = None) -> None:
        super().__init__(options, breakers=breakers)
        self.config = IronicOptions.parse(self.options)
        self._client: Lazy[Any] = Lazy(self._make_client)
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pending: dict[str, Future[None]] = {}
        self._failed: dict[str, str] = {}
        self._closed = False
        #: Seconds Ironic recently took to process a claim (see ``_wait_claimed``).
        self._claim_estimate = 0.0
        self._candidates = CandidateCache(self.config.claim_candidates,
                                          self.config.candidate_max_age)

    # -- the contract -------------------------------------------------------------

    def build(self, request: BuildRequest) -> str:
        """Claim a node and start its deploy; return the instance uuid (see module doc)."""
        self.check_request(request)
        plan = self._plan(request)
        allocation_uuid = self._allocation_uuid(request.idempotency_key)
        allocation = self._claim(plan, allocation_uuid, request)
        if allocation is None:  # idempotent retry of an earlier build
            return allocation_uuid
        node_uuid = str(allocation["node_uuid"])
        finish = self._finisher(node_uuid, allocation_uuid, plan, request)
        if not self.config.async_deploy:
            finish()
            return allocation_uuid
        with self._lock:
            self._failed.pop(allocation_uuid, None)
            future = self._pool().submit(self._finish_quietly, finish, allocation_uuid)
            self._pending[allocation_uuid] = future
        future.add_done_callback(functools.partial(self._forget, allocation_uuid))
        return allocation_uuid

    def delete(self, amphora_id: str) -> None:
        """Undeploy (or release a claim that never deployed); gone already is success."""
        self._await_pending(amphora_id)
        with self._lock:
            self._failed.pop(amphora_id, None)
        node = self._node_of(amphora_id, "delete")
        if node is None:
            LOG.info("ironic delete %s: already gone", amphora_id)
            return
        state = node.get("provision_state")
        if state in ("deleting", "cleaning", "clean wait"):
            LOG.info("ironic delete %s: already being torn down (%s)", amphora_id, state)
            return
        if state == "available":
            self._release(str(node["uuid"]), amphora_id, "delete")
            return
        self._with_conflict_retry("delete", amphora_id, lambda: self._ironic().node
                                  .set_provision_state(node["uuid"], "deleted"))

    def statuses(self, amphora_ids: Sequence[str]) -> dict[str, Amphora]:
        """One node list per resource class and page, or per-id lookups for a few ids."""
        wanted = list(dict.fromkeys(amphora_ids))
        if not wanted:
            return {}
        if len(wanted) <= self.config.per_id_max:
            found = {}
            for amphora_id in wanted:
                node = self._node_of(amphora_id, "statuses")
                if node is not None:
                    found[amphora_id] = node
        else:
            found = {n["instance_uuid"]: n for n in self._claimed_nodes("statuses")}
        stale = self._stale_claims(found.values(), "statuses")
        return {i: self._to_amphora(found[i], stale=i in stale) if i in found else self._gone(i)
                for i in wanted}

    def get_amphora(self, amphora_name: str | None = None,
                    amphora_id: str | None = None) -> Amphora:
        """By instance uuid (one node GET + its allocation) or by name (allocation list)."""
        self.require_lookup(amphora_name, amphora_id)
        if amphora_id:
            node = self._node_of(amphora_id, "get_amphora")
            if node is None:
                if amphora_id in self._failed:
                    return self._gone(amphora_id)
                raise InstanceNotFoundError(f"ironic: no amphora {amphora_id!r}",
                                            backend=BACKEND, amphora_id=amphora_id)
            allocation = self._allocation(amphora_id, "get_amphora")
            stale = self._stale_claims([node], "get_amphora", {amphora_id: allocation})
            record = self._to_amphora(node, allocation, stale=amphora_id in stale)
            if record.status is AmphoraStatus.DELETED:  # being torn down: gone for callers
                raise InstanceNotFoundError(f"ironic: amphora {amphora_id!r} is deleted",
                                            backend=BACKEND, amphora_id=amphora_id)
            return record
        for allocation in self._our_allocations("get_amphora"):
            if allocation["extra"].get("amphora_name") == amphora_name:
                node = self._node_of(allocation["uuid"], "get_amphora")
                named = self._to_amphora(node, allocation) if node is not None else None
                if named is not None and named.status is not AmphoraStatus.DELETED:
                    return named
        raise InstanceNotFoundError(f"ironic: no amphora named {amphora_name!r}",
                                    backend=BACKEND)

    def list(self) -> list[Amphora]:
        """Every claimed node of the pool whose allocation amphora-compute made."""
        allocations = {a["uuid"]: a for a in self._our_allocations("list")}
        records = [self._to_amphora(node, allocations[node["instance_uuid"]])
                   for node in self._claimed_nodes("list")
                   if node["instance_uuid"] in allocations]
        return [r for r in records if r.status is not AmphoraStatus.DELETED]

    def suspend(self, amphora_id: str) -> None:
        """Power the node off (Ironic keeps the deployment)."""
        node = self._require_node(amphora_id, "suspend")
        self._with_conflict_retry("suspend", amphora_id, lambda: self._ironic().node
                                  .set_power_state(node["uuid"], "off"))

    def resume(self, amphora_id: str) -> None:
        """Power the node on; NotSuspendedError when it is not powered off."""
        node = self._require_node(amphora_id, "resume")
        if node.get("provision_state") != "active" \
                or node.get("power_state") not in _SUSPENDED_POWER:
            raise NotSuspendedError(
                f"ironic: amphora {amphora_id} is not suspended (provision state "
                f"{node.get('provision_state')!r}, power {node.get('power_state')!r})",
                backend=BACKEND, amphora_id=amphora_id)
        self._with_conflict_retry("resume", amphora_id, lambda: self._ironic().node
                                  .set_power_state(node["uuid"], "on"))

    def close(self) -> None:
        """Wait for deploys this driver started (bounded), then drop the client."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self._client.reset()

    def find_by_idempotency_key(self, key: str) -> Amphora | None:
        """The amphora built with ``key``: its allocation uuid is derived from the key."""
        amphora_id = self._allocation_uuid(key)
        node = self._node_of(amphora_id, "find_by_idempotency_key")
        return self._to_amphora(node) if node is not None else None

    def validate_flavor(self, flavor: str) -> None:
        """A bare-metal flavor is a resource class of the pool with at least one node."""
        self.config.resource_class_for(flavor)
        with self._translate_errors("validate_flavor"):
            nodes = self._ironic().node.list(resource_class=flavor, fields=["uuid"], limit=1)
        if not nodes:
            raise InvalidRequestError(f"no Ironic node has resource class {flavor!r}",
                                      field="flavor")

    # -- build steps ------------------------------------------------------------------

    def _plan(self, request: BuildRequest) -> dict[str, Any]:
        """Everything the build sends, computed (and validated) before any backend call."""
        if request.network_ids:
            raise InvalidRequestError(
                "standalone Ironic has no Neutron to make ports on these networks; pass "
                "port_ids (VIF ids) with vif_attach = true when the nodes' network interface "
                "supports VIFs, or no networks at all", field="network_ids")
        if request.port_ids and not self.config.vif_attach:
            raise InvalidRequestError(
                "this Ironic backend does not attach VIFs (vif_attach = false: the nodes' "
                "network interface is noop)", field="port_ids")
        flavor = request.flavor
        resource_class = self.config.resource_class_for(
            flavor.name if flavor is not None else None)
        image = self.config.resolve_image(request.image)
        root_gb = (flavor.disk_gb if flavor is not None and flavor.disk_gb else None) \
            or self.config.root_gb
        instance_info: dict[str, Any] = {"image_source": image.source, "root_gb": root_gb,
                                         "display_name": request.name}
        if image.checksum:
            instance_info["image_checksum"] = image.checksum
            if image.checksum_algo:
                instance_info["image_os_hash_algo"] = image.checksum_algo
                instance_info["image_os_hash_value"] = image.checksum
        drive = build_configdrive(request, node_uuid="")  # raises on bad user_data
        return {"resource_class": resource_class, "instance_info": instance_info,
                "configdrive": drive, "image": image.label}

    def _allocation_uuid(self, key: str | None) -> str:
        return str(uuid.uuid5(KEY_NAMESPACE, key)) if key else str(uuid.uuid4())

    def _claim(self, plan: dict[str, Any], allocation_uuid: str,
               request: BuildRequest) -> dict[str, Any] | None:
        """POST the allocation and wait (bounded) for its node; None for a repeated key."""
        extra = {MARKER: "1", "amphora_name": request.name, "amphora_image": plan["image"]}
        if request.idempotency_key:
            extra["amphora_idempotency_key"] = request.idempotency_key
        body: dict[str, Any] = {"uuid": allocation_uuid, "resource_class": plan["resource_class"],
                                "extra": extra}
        if self.config.traits:
            body["traits"] = list(self.config.traits)
        if self.config.candidate_nodes:
            body["candidate_nodes"] = list(self.config.candidate_nodes)
        if self.config.owner:
            body["owner"] = self.config.owner
        resource_class = plan["resource_class"]
        try:
            return self._claimed(self._claim_with_retries(body, allocation_uuid, request), plan)
        finally:
            # After the claim, not before: listing the pool costs Ironic CPU the claim needs.
            self._refresh_candidates_soon(resource_class)

    def _claim_with_retries(self, body: dict[str, Any], allocation_uuid: str,
                            request: BuildRequest) -> dict[str, Any] | None:
        sample = self._candidates.take(body["resource_class"])
        if sample:
            try:
                return self._claim_once({**body, "candidate_nodes": sample}, allocation_uuid,
                                        request)
            except _ClaimFailed:
                # Stale candidates (taken meanwhile): claim from the whole pool below.
                LOG.debug("ironic build %s: none of the candidates %s could be claimed",
                          allocation_uuid, sample)
                self._candidates.invalidate(body["resource_class"])
        # Ironic reports a failed allocation only as text (no code), so "no free node"
        # cannot be told from a transient failure (all candidates locked, a database
        # hiccup): a failed claim is tried again, a bounded number of times.
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.config.claim_attempts),
            wait=tenacity.wait_exponential(multiplier=0.05, max=0.5),
            retry=tenacity.retry_if_exception_type(_ClaimFailed), reraise=True)
        try:
            return retrying(self._claim_once, body, allocation_uuid, request)
        except _ClaimFailed as exc:
            raise exc.error from None

    @staticmethod
    def _claimed(allocation: dict[str, Any] | None,
                 plan: Mapping[str, Any]) -> dict[str, Any] | None:
        if allocation is not None:
            LOG.info("ironic build %s: claimed node %s (resource class %s)",
                     allocation["uuid"], allocation["node_uuid"], plan["resource_class"])
        return allocation

    def _refresh_candidates_soon(self, resource_class: str) -> None:
        """Refresh the candidate list on the thread pool when it runs low or old."""
        if not self._candidates.start_refresh(resource_class):
            return
        try:
            self._pool().submit(self._refresh_candidates, resource_class)
        except (AmphoraComputeError, RuntimeError):  # closed meanwhile
            self._candidates.abort(resource_class)

    def _refresh_candidates(self, resource_class: str) -> None:
        """One list of the free nodes a claim of ``resource_class`` could get."""
        wanted = ["uuid", "name", "power_state"]
        if self.config.traits:
            wanted.append("traits")
        if self.config.owner:
            wanted += ["owner", "lessee"]
        try:
            nodes = self._node_pages("build", resource_class, wanted, associated=False,
                                     provision_state="available", maintenance=False)
        except AmphoraComputeError as exc:
            LOG.debug("ironic: candidate list of %s not refreshed: %s", resource_class, exc)
            self._candidates.abort(resource_class)
            return
        allowed = set(self.config.candidate_nodes)
        traits = set(self.config.traits)
        owner = self.config.owner
        self._candidates.fill(resource_class, [
            str(n["uuid"]) for n in nodes
            if n.get("power_state")  # Ironic's allocation skips nodes with no power state
            and (not allowed or n["uuid"] in allowed or n.get("name") in allowed)
            and traits.issubset(n.get("traits") or ())
            and (owner is None or owner in (n.get("owner"), n.get("lessee")))])

    def _claim_once(self, body: dict[str, Any], allocation_uuid: str,
                    request: BuildRequest) -> dict[str, Any] | None:
        try:
            allocation = self._post_allocation(body, allocation_uuid)
        except AmphoraComputeError as exc:
            if request.idempotency_key and http_status_of(exc.__cause__ or exc) == 409 \
                    and self._earlier_build(allocation_uuid):
                LOG.info("ironic build: idempotency key %s was already built as %s",
                         request.idempotency_key, allocation_uuid)
                return None
            raise
        try:
            return self._wait_claimed(allocation, allocation_uuid)
        except AmphoraBuildError as exc:
            if exc.caller_error:  # the allocation failed (and was deleted): try again
                raise _ClaimFailed(exc) from exc
            raise

    def _post_allocation(self, body: dict[str, Any], allocation_uuid: str) -> dict[str, Any]:
        """POST the allocation; a refused or reset connection is tried again (bounded).

        Repeating the POST is safe: the allocation carries its own uuid, so a
        repeat whose first attempt did reach Ironic answers 409, and a nonce in
        ``extra`` tells that first attempt (ours: use it) from an earlier build
        with the same idempotency key (409 raised to the caller).  Seen here when
        Ironic's API server overflowed its listen backlog under 20 simultaneous
        builds: the kernel reset the connection.
        """
        nonce = uuid.uuid4().hex
        body = {**body, "extra": {**body["extra"], CLAIM_NONCE: nonce}}
        try:
            return self._with_conflict_retry(
                "build", allocation_uuid,
                lambda: _as_dict(self._ironic().allocation.create(**body)),
                conflicts=False, reconnects=True)
        except AmphoraComputeError as exc:
            if http_status_of(exc.__cause__ or exc) != 409:
                if not exc.caller_error:  # it may have reached Ironic: leave no half claim
                    self._release_if_ours(allocation_uuid, nonce)
                raise
            existing = self._allocation(allocation_uuid, "build")
            if existing is not None and (existing.get("extra") or {}).get(CLAIM_NONCE) == nonce:
                LOG.info("ironic build %s: the claim got through before the connection broke",
                         allocation_uuid)
                return existing
            raise

    def _release_if_ours(self, allocation_uuid: str, nonce: str) -> None:
        """Best effort: delete the allocation if this very POST made it (its nonce)."""
        with contextlib.suppress(AmphoraComputeError):
            existing = self._allocation(allocation_uuid, "build")
            if existing is not None and (existing.get("extra") or {}).get(CLAIM_NONCE) == nonce:
                self._delete_allocation(allocation_uuid, "build")

    def _earlier_build(self, allocation_uuid: str) -> bool:
        """After a 409 on our own uuid: wait (bounded) for the earlier build's claim."""
        deadline = time.monotonic() + self.config.claim_timeout
        while True:
            allocation = self._allocation(allocation_uuid, "build")
            state = (allocation or {}).get("state")
            if state == "active" and allocation and allocation.get("node_uuid"):
                return True  # the node's instance_uuid is set in the same transaction
            if state != "allocating" or time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def _wait_claimed(self, allocation: dict[str, Any], allocation_uuid: str) -> dict[str, Any]:
        """Poll the allocation until Ironic's conductor has processed it (bounded).

        Ironic takes a fairly steady time to process an allocation (about 35
        to 60 ms with three candidates, 100 ms or more for a pool of 100, on an
        idle test Ironic), and every poll costs it CPU that the claim itself
        needs.  So the first poll waits about as long as this driver's recent
        claims took (``_claim_estimate``, learned from the allocations' own
        created/updated times), then polls every ``claim_poll`` for
        ``CLAIM_FAST_POLLING`` s (an interval doubling at once adds up to its own
        length to a claim that just missed a poll), then doubling up to 0.2 s.
        """
        start = time.monotonic()
        deadline = start + self.config.claim_timeout
        delay = max(self.config.claim_poll, 0.8 * self._claim_estimate)
        while allocation.get("state") == "allocating":
            if time.monotonic() > deadline:
                self._delete_allocation(allocation_uuid, "build")
                raise AmphoraBuildError(
                    f"ironic build {allocation_uuid}: the allocation was not processed within "
                    f"{self.config.claim_timeout:.0f}s", backend=BACKEND)
            time.sleep(delay)
            # Short, flat polls while a claim is still likely to end any moment; a claim
            # that takes longer (a burst of builds, locked nodes) is polled less and less.
            delay = self.config.claim_poll if time.monotonic() - start < CLAIM_FAST_POLLING \
                else min(max(delay, self.config.claim_poll) * 2, 0.2)
            try:
                allocation = self._with_conflict_retry(
                    "build", allocation_uuid,
                    lambda: _as_dict(self._ironic().allocation.get(
                        allocation_uuid, fields=["uuid", "state", "node_uuid", "last_error",
                                                 "created_at", "updated_at"])),
                    conflicts=False, reconnects=True)
            except AmphoraComputeError:
                # No half-claimed node: try to release the claim (Ironic may be gone,
                # then ``stale_claim`` reports it and ``delete`` releases it later).
                with contextlib.suppress(AmphoraComputeError):
                    self._delete_allocation(allocation_uuid, "build")
                raise
        if allocation.get("state") != "active" or not allocation.get("node_uuid"):
            reason = allocation.get("last_error") or f"allocation {allocation.get('state')}"
            self._delete_allocation(allocation_uuid, "build")
            # No free node is capacity, not a sick backend: it must not trip the breaker.
            raise AmphoraBuildError(f"ironic build: no node could be claimed: {reason}",
                                    backend=BACKEND, fault=str(reason), caller_error=True)
        self._learn_claim_time(allocation)
        return allocation

    def _learn_claim_time(self, allocation: Mapping[str, Any]) -> None:
        """Fold Ironic's processing time of this claim into ``_claim_estimate``.

        The time comes from the allocation's own timestamps (both Ironic's clock),
        so client clock skew and poll granularity do not enter it; it is capped
        at 0.5 s so one slow claim cannot make later builds sleep long.
        """
        created = _parse_time(allocation.get("created_at"))
        updated = _parse_time(allocation.get("updated_at"))
        if created is None or updated is None:
            return
        took = min(max((updated - created).total_seconds(), 0.0), 0.5)
        with self._lock:
            self._claim_estimate = took if self._claim_estimate == 0.0 \
                else 0.7 * self._claim_estimate + 0.3 * took

    def _finisher(self, node_uuid: str, allocation_uuid: str, plan: dict[str, Any],
                  request: BuildRequest) -> Callable[[], None]:
        """Step 4 (instance info, VIFs, deploy), releasing the claim if any part fails."""
        patch = [{"op": "add", "path": f"/instance_info/{key}", "value": value}
                 for key, value in plan["instance_info"].items()]
        patch.append({"op": "add", "path": f"/extra/{NODE_EXTRA}",
                      "value": {"id": allocation_uuid, "name": request.name,
                                "image": plan["image"]}})
        drive = dict(plan["configdrive"])
        drive["meta_data"] = {**drive["meta_data"], "uuid": allocation_uuid}
        ports = request.port_ids

        def finish() -> None:
            try:
                self._with_conflict_retry("build", allocation_uuid,
                                          lambda: self._ironic().node.update(node_uuid, patch))
                for port in ports:
                    self._attach_vif(node_uuid, allocation_uuid, port)
                self._with_conflict_retry("build", allocation_uuid, lambda: self._ironic().node
                                          .set_provision_state(node_uuid, "active",
                                                               configdrive=drive))
            except AmphoraComputeError as exc:
                self._undo_claim(node_uuid, allocation_uuid, plan)
                raise AmphoraBuildError(
                    f"ironic build {allocation_uuid} on node {node_uuid}: {exc}",
                    backend=BACKEND, amphora_id=allocation_uuid, fault=exc.fault or str(exc),
                    caller_error=exc.caller_error) from exc

        return finish

    def _attach_vif(self, node_uuid: str, allocation_uuid: str, port: str) -> None:
        self._with_conflict_retry("build", allocation_uuid,
                                  lambda: self._ironic().node.vif_attach(node_uuid, port))

    def _finish_quietly(self, finish: Callable[[], None], allocation_uuid: str) -> None:
        """Run ``finish`` on the pool; a failure becomes the amphora's ERROR fault."""
        try:
            finish()
        except AmphoraComputeError as exc:
            LOG.error("%s", exc)
            with self._lock:
                self._failed[allocation_uuid] = exc.fault or str(exc)
        except Exception as exc:  # a bug: record it rather than lose it in the pool
            LOG.exception("ironic build %s: unexpected failure", allocation_uuid)
            with self._lock:
                self._failed[allocation_uuid] = f"{type(exc).__name__}: {exc}"

    def _undo_claim(self, node_uuid: str, allocation_uuid: str, plan: dict[str, Any]) -> None:
        """Put the node back as it was: instance info removed, allocation released.

        A failure here is logged, never raised over the build's own error.
        """
        try:
            remove = [{"op": "remove", "path": f"/instance_info/{key}"}
                      for key in plan["instance_info"]]
            with contextlib.suppress(InstanceNotFoundError):
                node = self._node_of(allocation_uuid, "build", more=("instance_info",))
                present = (node or {}).get("instance_info") or {}
                remove = [op for op in remove if op["path"].rsplit("/", 1)[1] in present]
                if NODE_EXTRA in ((node or {}).get("extra") or {}):
                    remove.append({"op": "remove", "path": f"/extra/{NODE_EXTRA}"})
                if remove:
                    self._with_conflict_retry("build", allocation_uuid,
                                              lambda: self._ironic().node.update(node_uuid,
                                                                                 remove))
            self._delete_allocation(allocation_uuid, "build")
        except AmphoraComputeError as exc:
            LOG.error("ironic build %s: could not release node %s (delete the amphora to "
                      "retry): %s", allocation_uuid, node_uuid, exc)

    # -- helpers ------------------------------------------------------------------------

    def _ironic(self) -> Any:
        """The ironicclient, made on first use (one keystoneauth session, reused)."""
        return self._client.get()

    def _make_client(self) -> Any:
        from amphora_compute.drivers._openstack import keystone_session

        session = keystone_session(self.config.auth_options(), BACKEND)
        kwargs: dict[str, Any] = {"session": session,
                                  "os_ironic_api_version": self.config.api_version,
                                  "max_retries": 0}
        if self.config.endpoint:
            kwargs["endpoint"] = self.config.endpoint
        if self.config.region_name:
            kwargs["region_name"] = self.config.region_name
        with self._translate_errors("connect"):
            client = ironic_client.get_client("1", **kwargs)
        client.http_client.logger = HTTP_LOG
        return client

    def _pool(self) -> ThreadPoolExecutor:
        if self._closed:
            raise AmphoraComputeError("the ironic driver is closed", backend=BACKEND)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.config.deploy_workers,
                                                thread_name_prefix="ironic-deploy")
        return self._executor

    def _forget(self, allocation_uuid: str, _future: object = None) -> None:
        with self._lock:
            self._pending.pop(allocation_uuid, None)

    def _await_pending(self, amphora_id: str) -> None:
        """A deploy this process is still starting must be started before it is undone."""
        future = self._pending.get(amphora_id)
        if future is None:
            return
        with contextlib.suppress(FutureTimeout):
            future.result(timeout=self.config.timeout * (self.config.conflict_retries + 3))

    @contextlib.contextmanager
    def _translate_errors(self, operation: str, amphora_id: str | None = None) -> Iterator[None]:
        """ironicclient / keystoneauth exceptions -> the contract's errors, cause kept."""
        try:
            yield
        except _CLIENT_ERRORS as exc:
            raise from_http_status(http_status_of(exc), _message(exc), operation=operation,
                                   backend=BACKEND, amphora_id=amphora_id) from exc

    def _with_conflict_retry(self, operation: str, amphora_id: str | None,
                             call: Callable[[], T], *, conflicts: bool = True,
                             reconnects: bool = False) -> T:
        """``call`` translated and retried (bounded, exponential backoff from 0.1 s).

        Retried: HTTP 409 (node locked, state in transition) up to
        ``conflict_retries`` times when ``conflicts``; a refused or reset
        connection (keystoneauth's ConnectFailure, never a timeout) up to
        ``connect_retries`` times when ``reconnects``, which callers ask for only
        where repeating the request is safe (GETs, the claim POST that carries
        its own uuid).  This is the driver's only retry layer.
        """
        def attempt() -> T:
            with self._translate_errors(operation, amphora_id):
                return call()

        def should_retry(state: tenacity.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome is not None else None
            if not isinstance(error, AmphoraComputeError):
                return False
            cause = error.__cause__ or error
            if conflicts and http_status_of(cause) == 409:
                return state.attempt_number <= self.config.conflict_retries
            if reconnects and isinstance(cause, ks_exceptions.ConnectFailure):
                return state.attempt_number <= self.config.connect_retries
            return False

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(
                1 + max(self.config.conflict_retries, self.config.connect_retries)),
            wait=tenacity.wait_exponential(multiplier=0.1, max=2.0),
            retry=should_retry, reraise=True)
        return retrying(attempt)

    def _node_of(self, amphora_id: str, operation: str,
                 more: Sequence[str] = ()) -> dict[str, Any] | None:
        """The node carrying this instance uuid, or None (one filtered GET)."""
        if not _is_uuid(amphora_id):
            return None
        try:
            with self._translate_errors(operation, amphora_id):
                node = self._ironic().node.get_by_instance_uuid(
                    amphora_id, fields=[*NODE_FIELDS, *more])
        except InstanceNotFoundError:
            return None
        return _as_dict(node)

    def _require_node(self, amphora_id: str, operation: str) -> dict[str, Any]:
        node = self._node_of(amphora_id, operation)
        if node is None:
            raise InstanceNotFoundError(f"ironic {operation}: no amphora {amphora_id!r}",
                                        backend=BACKEND, amphora_id=amphora_id)
        return node

    def _claimed_nodes(self, operation: str) -> builtins.list[dict[str, Any]]:
        """Claimed nodes of the pool: one list request per resource class and page."""
        out: builtins.list[dict[str, Any]] = []
        for resource_class in self.config.resource_classes:
            out.extend(self._node_pages(operation, resource_class, NODE_FIELDS,
                                        associated=True))
        return [n for n in out if n.get("instance_uuid")]

    def _node_pages(self, operation: str, resource_class: str, wanted: Sequence[str],
                    **filters: Any) -> builtins.list[dict[str, Any]]:
        """Nodes of one resource class with only the ``wanted`` fields, page by page."""
        out: builtins.list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            with self._translate_errors(operation):
                page = self._ironic().node.list(
                    resource_class=resource_class, marker=marker, limit=self.config.page_size,
                    fields=list(wanted), **filters)
            out.extend(_as_dict(n) for n in page)
            if len(page) < self.config.page_size:
                return out
            marker = page[-1].uuid

    def _our_allocations(self, operation: str) -> builtins.list[dict[str, Any]]:
        """Allocations amphora-compute made in the pool (one list per resource class)."""
        out: builtins.list[dict[str, Any]] = []
        for resource_class in self.config.resource_classes:
            with self._translate_errors(operation):
                found = self._ironic().allocation.list(
                    resource_class=resource_class, limit=0,
                    fields=["uuid", "node_uuid", "state", "extra", "created_at"])
            out.extend(_as_dict(a) for a in found)
        return [a for a in out if (a.get("extra") or {}).get(MARKER)]

    def _allocation(self, allocation_uuid: str, operation: str) -> dict[str, Any] | None:
        try:
            with self._translate_errors(operation, allocation_uuid):
                return _as_dict(self._ironic().allocation.get(
                    allocation_uuid,
                    fields=["uuid", "node_uuid", "state", "extra", "created_at",
                            "last_error"]))
        except InstanceNotFoundError:
            return None

    def _release(self, node_uuid: str, amphora_id: str, operation: str) -> None:
        """Release a claim that never deployed (the node goes back to the pool)."""
        with contextlib.suppress(InstanceNotFoundError):
            node = self._node_of(amphora_id, operation, more=("instance_info",))
            patch = [{"op": "replace", "path": "/instance_info", "value": {}}] \
                if (node or {}).get("instance_info") else []
            if NODE_EXTRA in ((node or {}).get("extra") or {}):
                patch.append({"op": "remove", "path": f"/extra/{NODE_EXTRA}"})
            if patch:
                self._with_conflict_retry(operation, amphora_id, lambda: self._ironic().node
                                          .update(node_uuid, patch))
        self._delete_allocation(amphora_id, operation)

    def _delete_allocation(self, allocation_uuid: str, operation: str) -> None:
        """DELETE the allocation; 404 (Ironic removed it already) is success."""
        try:
            self._with_conflict_retry(operation, allocation_uuid,
                                      lambda: self._ironic().allocation.delete(allocation_uuid))
        except InstanceNotFoundError:
            pass
        except AmphoraComputeError as exc:
            if operation == "delete":
                raise DeleteFailed(f"ironic delete {allocation_uuid}: Ironic refused to "
                                   f"release the node: {exc.fault or exc}", backend=BACKEND,
                                   amphora_id=allocation_uuid, fault=exc.fault,
                                   caller_error=exc.caller_error) from exc
            raise

    def _stale_claims(self, nodes: Any, operation: str,
                      allocations: Mapping[str, dict[str, Any] | None] | None = None) -> set[str]:
        """Ids of nodes claimed over ``stale_claim`` s ago whose deploy never started.

        Ironic's node list cannot return timestamps, so the allocation (which can)
        is read, only for claimed nodes still ``available`` that no local deploy
        is starting: normally none, or the few in their first second.
        """
        stale: set[str] = set()
        for node in nodes:
            amphora_id = str(node.get("instance_uuid"))
            if node.get("provision_state") != "available" or amphora_id in self._pending \
                    or amphora_id in self._failed:
                continue
            allocation = (allocations or {}).get(amphora_id) \
                or self._allocation(amphora_id, operation)
            if allocation is not None and _age(allocation.get("created_at")) \
                    > self.config.stale_claim:
                stale.add(amphora_id)
        return stale

    def _to_amphora(self, node: dict[str, Any], allocation: dict[str, Any] | None = None,
                    *, stale: bool = False) -> Amphora:
        amphora_id = str(node["instance_uuid"])
        state = node.get("provision_state")
        status = self.map_status(state)
        fault = None
        if state == "active" and node.get("power_state") in _SUSPENDED_POWER:
            status = AmphoraStatus.SUSPENDED
        elif status is AmphoraStatus.ERROR:
            fault = node.get("last_error") or f"node {node.get('uuid')} is {state}"
        elif state == "available":
            failed = self._failed.get(amphora_id)
            if failed is not None:
                status, fault = AmphoraStatus.ERROR, failed
            elif stale:
                status = AmphoraStatus.ERROR
                fault = (f"node {node.get('uuid')} was claimed but its deploy never started "
                         f"(over {self.config.stale_claim:.0f}s); delete the amphora")
        info = (node.get("extra") or {}).get(NODE_EXTRA) or {}
        if not isinstance(info, dict) or info.get("id") != amphora_id:
            info = {}  # left by an earlier deployment on this node
        extra = (allocation or {}).get("extra") or {}
        name = info.get("name") or extra.get("amphora_name")
        return Amphora(
            id=amphora_id, name=name, amphora_type=self.amphora_type, backend=BACKEND,
            status=status, raw_status=f"{state}/{node.get('power_state')}", fault=fault,
            flavor=node.get("resource_class"),
            image=extra.get("amphora_image") or info.get("image"),
            created_at=_parse_time((allocation or {}).get("created_at")),
            idempotency_key=extra.get("amphora_idempotency_key"),
            extra={"node_uuid": node.get("uuid"), "node_name": node.get("name")})

    def _gone(self, amphora_id: str) -> Amphora:
        failed = self._failed.get(amphora_id)
        if failed is not None:
            return Amphora(id=amphora_id, name=None, amphora_type=self.amphora_type,
                           backend=BACKEND, status=AmphoraStatus.ERROR, raw_status="released",
                           fault=failed)
        if amphora_id in self._pending:  # claimed this instant; the node list raced it
            return Amphora(id=amphora_id, name=None, amphora_type=self.amphora_type,
                           backend=BACKEND, status=AmphoraStatus.BUILDING)
        return Amphora.deleted(amphora_id, self.amphora_type, BACKEND)


class _ClaimFailed(Exception):
    """An allocation ended in ``error``; carries the AmphoraBuildError to raise at the end."""

    def __init__(self, error: AmphoraBuildError) -> None:
        super().__init__(str(error))
        self.error = error


def _as_dict(resource: Any) -> dict[str, Any]:
    if isinstance(resource, dict):
        return resource
    return dict(resource.to_dict())


def _message(exc: BaseException) -> str:
    """Ironic's own words (its faultstring), without the client's decoration."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text).splitlines()[0][:500]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _age(value: Any) -> float:
    when = _parse_time(value)
    if when is None:
        return 0.0
    return (datetime.now(UTC) - when).total_seconds()
