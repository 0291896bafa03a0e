"""The asyncio facade: bounded pool, batched wait_for, errors and cleanup."""

from __future__ import annotations

import asyncio
import time

import pytest

from amphora_compute import AmphoraStatus, AmphoraType, BuildRequest, Dispatcher
from amphora_compute.aio import AsyncDispatcher, WaitFailedError, WaitTimeoutError
from amphora_compute.config import parse_config


def _dispatcher(**vm) -> Dispatcher:
    return Dispatcher(parse_config({"backends": {"noop-vm": vm}}))


def test_wait_for_returns_when_all_are_active_with_one_batch_call_per_round() -> None:
    async def run() -> None:
        dispatcher = _dispatcher(build_time=0.2)
        async with AsyncDispatcher(dispatcher, pool_size=8) as facade:
            ids = await asyncio.gather(*(facade.build(BuildRequest(name=f"w{i}"))
                                         for i in range(10)))
            records = await facade.wait_for(ids, AmphoraStatus.ACTIVE, timeout=10)
            assert all(r.status is AmphoraStatus.ACTIVE for r in records.values())
            driver = dispatcher.driver(AmphoraType.VM)
            polls = [c for c in driver.calls if c[0] == "statuses"]  # type: ignore[attr-defined]
            gets = [c for c in driver.calls if c[0] == "get_amphora"]  # type: ignore[attr-defined]
            assert polls and not gets
            assert len(polls) < 20  # backoff, not a busy loop

    asyncio.run(run())


def test_wait_for_raises_on_error_with_the_fault_and_cleans_up_only_when_asked() -> None:
    async def run() -> None:
        dispatcher = _dispatcher(build_outcome="error", build_fault="No valid host was found")
        async with AsyncDispatcher(dispatcher, pool_size=2) as facade:
            amphora_id = await facade.build(BuildRequest(name="bad"))
            with pytest.raises(WaitFailedError, match="No valid host") as info:
                await facade.wait_for([amphora_id], timeout=5)
            assert info.value.deleted == ()
            assert (await facade.statuses([amphora_id]))[amphora_id].status \
                is AmphoraStatus.ERROR
            with pytest.raises(WaitFailedError) as info:
                await facade.wait_for([amphora_id], timeout=5, delete_on_failure=True)
            assert info.value.deleted == (amphora_id,)
            assert (await facade.statuses([amphora_id]))[amphora_id].status \
                is AmphoraStatus.DELETED

    asyncio.run(run())


def test_wait_for_times_out_and_can_delete_on_timeout() -> None:
    async def run() -> None:
        dispatcher = _dispatcher(build_outcome="never_active")
        async with AsyncDispatcher(dispatcher, pool_size=2) as facade:
            amphora_id = await facade.build(BuildRequest(name="slow"))
            with pytest.raises(WaitTimeoutError, match="BUILDING") as info:
                await facade.wait_for([amphora_id], timeout=0.3, delete_on_failure=True)
            assert info.value.deleted == (amphora_id,)
            assert not await facade.list()

    asyncio.run(run())


def test_the_pool_bounds_concurrency() -> None:
    async def run() -> None:
        dispatcher = _dispatcher(latency=0.1)
        async with AsyncDispatcher(dispatcher, pool_size=4) as facade:
            start = time.monotonic()
            await asyncio.gather(*(facade.build(BuildRequest(name=f"p{i}")) for i in range(8)))
            elapsed = time.monotonic() - start
        # 8 calls of 0.1 s on 4 workers need two rounds; on 8 threads they would need one.
        assert elapsed >= 0.2

    asyncio.run(run())


def test_the_event_loop_is_never_blocked() -> None:
    async def run() -> None:
        dispatcher = _dispatcher(latency=0.3)
        async with AsyncDispatcher(dispatcher, pool_size=2) as facade:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                for _ in range(10):
                    await asyncio.sleep(0.01)
                    ticks += 1

            await asyncio.gather(facade.build(BuildRequest(name="b")), ticker())
            assert ticks == 10

    asyncio.run(run())
