"""An asyncio facade over the dispatcher: the same operations as coroutines.

The backends' client libraries are blocking; each call runs in a bounded
thread pool (``pool_size``, the config's ``[pool] max_workers``), so an event
loop never blocks and a burst of builds cannot start unbounded threads.
pybreaker is not used on coroutines (its ``call_async`` is Tornado-only): the
breakers guard the blocking calls inside the pool.

``wait_for`` is the batched, bounded poll a controller needs: one ``statuses``
call per round for all the ids, backoff between rounds, a deadline, and no
side effects unless asked (``delete_on_failure=True``).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .enums import AmphoraStatus, AmphoraType
from .errors import AmphoraComputeError
from .models import Amphora, BuildRequest

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class WaitFailedError(AmphoraComputeError):
    """An amphora reached ERROR (or vanished) while being waited for.

    ``amphorae`` holds the last record seen of every id waited for, so the
    caller knows exactly what exists (nothing is leaked silently).
    """

    def __init__(self, message: str, amphorae: dict[str, Amphora], deleted: Sequence[str] = ()):
        failed = [a for a in amphorae.values() if a.status in (AmphoraStatus.ERROR,
                                                                AmphoraStatus.DELETED)]
        super().__init__(message, amphora_id=failed[0].id if failed else None,
                         fault=failed[0].fault if failed else None,
                         backend=failed[0].backend if failed else None)
        self.amphorae = amphorae
        self.deleted = tuple(deleted)


class WaitTimeoutError(AmphoraComputeError, TimeoutError):
    """The deadline passed before every amphora reached the wanted status."""

    def __init__(self, message: str, amphorae: dict[str, Amphora], deleted: Sequence[str] = ()):
        super().__init__(message)
        self.amphorae = amphorae
        self.deleted = tuple(deleted)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Poll intervals: ``initial`` doubling up to ``maximum``."""

    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 2.0

    def intervals(self) -> Iterable[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(self.maximum, delay * self.factor)


class AsyncDispatcher:
    """Coroutines over a ``Dispatcher``; blocking calls run in a bounded pool."""

    def __init__(self, dispatcher: Any, *, pool_size: int | None = None) -> None:
        self.dispatcher = dispatcher
        size = pool_size or dispatcher.config.pool_size
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="amphora")

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, func, *args)

    async def build(self, request: BuildRequest) -> str:
        return await self._run(self.dispatcher.build, request)

    async def delete(self, amphora_id: str) -> None:
        await self._run(self.dispatcher.delete, amphora_id)

    async def status(self, amphora_id: str) -> AmphoraStatus:
        return await self._run(self.dispatcher.status, amphora_id)

    async def statuses(self, amphora_ids: Sequence[str]) -> dict[str, Amphora]:
        return await self._run(self.dispatcher.statuses, list(amphora_ids))

    async def get_amphora(self, amphora_id: str | None = None,
                          amphora_name: str | None = None) -> Amphora:
        return await self._run(lambda: self.dispatcher.get_amphora(
            amphora_id=amphora_id, amphora_name=amphora_name))

    async def list(self, amphora_type: AmphoraType | str | None = None
                   ) -> builtins.list[Amphora]:
        return await self._run(self.dispatcher.list, amphora_type)

    async def suspend(self, amphora_id: str) -> None:
        await self._run(self.dispatcher.suspend, amphora_id)

    async def resume(self, amphora_id: str) -> None:
        await self._run(self.dispatcher.resume, amphora_id)

    async def wait_for(self, amphora_ids: Sequence[str],
                       status: AmphoraStatus = AmphoraStatus.ACTIVE, timeout: float = 600.0,
                       *, backoff: Backoff | None = None, delete_on_failure: bool = False,
                       on_progress: Callable[[dict[str, Amphora]], None] | None = None,
                       ) -> dict[str, Amphora]:
        """Poll until every id has ``status``; return their records.

        :raises WaitFailedError: one reached ERROR (with its fault) or vanished.
        :raises WaitTimeoutError: ``timeout`` seconds passed first.
        With ``delete_on_failure=True`` every id waited for is deleted before
        either error is raised (the exception's ``deleted`` lists them).
        """
        ids = list(dict.fromkeys(amphora_ids))
        deadline = time.monotonic() + timeout
        last: dict[str, Amphora] = {}
        for delay in (backoff or Backoff()).intervals():
            last = await self.statuses(ids)
            if on_progress is not None:
                on_progress(last)
            bad = [a for a in last.values() if a.status is AmphoraStatus.ERROR
                   or (a.status is AmphoraStatus.DELETED and status is not AmphoraStatus.DELETED)]
            if bad:
                deleted = await self._cleanup(ids, delete_on_failure)
                faults = "; ".join(f"{a.id}: {a.status.value}"
                                   + (f" ({a.fault})" if a.fault else "") for a in bad)
                raise WaitFailedError(f"waiting for {status.value} failed: {faults}", last,
                                      deleted)
            if all(a.status is status for a in last.values()) and len(last) == len(ids):
                return last
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                deleted = await self._cleanup(ids, delete_on_failure)
                pending = ", ".join(f"{a.id} is {a.status.value}" for a in last.values()
                                    if a.status is not status)
                raise WaitTimeoutError(
                    f"timed out after {timeout:.0f}s waiting for {status.value}: {pending}",
                    last, deleted)
            await asyncio.sleep(min(delay, remaining))
        raise AssertionError("unreachable")

    async def _cleanup(self, ids: Sequence[str], enabled: bool) -> builtins.list[str]:
        if not enabled:
            return []
        results = await asyncio.gather(*(self.delete(i) for i in ids), return_exceptions=True)
        for amphora_id, result in zip(ids, results, strict=True):
            if isinstance(result, BaseException):
                LOG.error("delete_on_failure: deleting %s failed: %s", amphora_id, result)
        return [i for i, r in zip(ids, results, strict=True) if not isinstance(r, BaseException)]

    async def close(self) -> None:
        """Shut the pool down (waits for running calls) and close the dispatcher."""
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)
        self.dispatcher.close()

    async def __aenter__(self) -> AsyncDispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
