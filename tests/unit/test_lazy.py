"""Lazy: the one-per-driver client made on first use."""

from __future__ import annotations

import threading

import pytest

from amphora_compute.lazy import Lazy


def test_many_threads_get_one_value() -> None:
    made: list[object] = []
    gate = threading.Event()

    def factory() -> object:
        gate.wait(5)
        made.append(object())
        return made[-1]

    lazy: Lazy[object] = Lazy(factory)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(lazy.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(made) == 1 and got == made * 8


def test_a_failed_make_is_tried_again_and_reset_hands_back_the_value() -> None:
    calls = iter([RuntimeError("no endpoint"), "client-1", "client-2"])

    def factory() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    lazy: Lazy[str] = Lazy(factory)
    with pytest.raises(RuntimeError):
        lazy.get()
    assert not lazy.made
    assert lazy.get() == "client-1" and lazy.made
    assert lazy.reset() == "client-1"
    assert lazy.reset() is None
    assert lazy.get() == "client-2"
