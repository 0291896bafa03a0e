"""Small helpers every bench script shares: timing loops and printing ratios."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def per_call_us(func: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best-of-``repeat`` mean time of one call, in microseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def interleaved_us(funcs: dict[str, Callable[[], object]], number: int = 5000,
                   rounds: int = 15) -> dict[str, float]:
    """Best per-call time of each function, measured in interleaved rounds.

    Interleaving makes a burst of load elsewhere on the machine hit every
    contender alike, so the ratios stay meaningful on a busy 2-core host.
    """
    best = {name: float("inf") for name in funcs}
    for _ in range(rounds):
        for name, func in funcs.items():
            start = time.perf_counter()
            for _ in range(number):
                func()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return {name: value * 1e6 for name, value in best.items()}


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of ``samples``."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def report(name: str, value: str, target: str, met: bool | None) -> None:
    verdict = "" if met is None else ("  [target met]" if met else "  [TARGET MISSED]")
    print(f"{name:58} {value:>28}   target {target}{verdict}")
