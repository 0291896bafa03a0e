"""CandidateCache: the free-node list a claim's ``candidate_nodes`` are taken from."""

from __future__ import annotations

from amphora_compute.drivers.ironic.candidates import CandidateCache

NODES = [f"node-{i}" for i in range(10)]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_takes_are_disjoint_until_the_list_runs_out() -> None:
    cache = CandidateCache(3, max_age=10, clock=Clock())
    cache.fill("rc", NODES)
    taken = [cache.take("rc") for _ in range(5)]
    assert [len(t) for t in taken] == [3, 3, 3, 1, 0]
    flat = [n for t in taken for n in t]
    assert sorted(flat) == sorted(NODES)  # every node handed out once, none twice


def test_nothing_is_taken_from_an_old_or_unknown_list() -> None:
    clock = Clock()
    cache = CandidateCache(3, max_age=10, clock=clock)
    assert cache.take("rc") == []
    cache.fill("rc", NODES)
    clock.now += 10.5
    assert cache.take("rc") == []


def test_one_refresh_at_a_time_and_only_when_due() -> None:
    clock = Clock()
    cache = CandidateCache(3, max_age=10, clock=clock)
    assert cache.start_refresh("rc")
    assert not cache.start_refresh("rc")  # one in flight already
    cache.fill("rc", NODES)
    assert not cache.start_refresh("rc")  # fresh and full enough
    cache.take("rc"), cache.take("rc"), cache.take("rc")  # one node left
    assert cache.start_refresh("rc")
    cache.abort("rc")
    cache.fill("rc", NODES)
    clock.now += 11
    assert cache.start_refresh("rc")  # too old


def test_invalidate_forgets_the_list() -> None:
    cache = CandidateCache(3, max_age=10, clock=Clock())
    cache.fill("rc", NODES)
    cache.invalidate("rc")
    assert cache.take("rc") == []
    assert cache.start_refresh("rc")


def test_size_zero_turns_it_off() -> None:
    cache = CandidateCache(0, max_age=10, clock=Clock())
    assert not cache.enabled
    assert not cache.start_refresh("rc")
    cache.fill("rc", NODES)
    assert cache.take("rc") == []
