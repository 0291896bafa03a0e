"""``Lazy``: a client made on first use, once, shared by threads.

Why: a driver must not do I/O in ``__init__`` (the CLI, the dispatcher and
Octavia make drivers they may never call), yet all the threads calling one
driver (a dispatcher's pool, a driver's own deploy pool) should share one
client.  Each OpenStack driver had its own double-checked lock for that; this
is the one they share.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """``get()`` makes the value with ``factory`` the first time; ``reset()`` forgets it."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        """Whether the value exists now (a driver that made no call has no client)."""
        return self._value is not None

    def get(self) -> T:
        value = self._value
        if value is not None:  # the common case takes no lock
            return value
        with self._lock:
            if self._value is None:
                self._value = self._factory()  # a failure leaves it unmade: tried again
            return self._value

    def reset(self) -> T | None:
        """Forget the value (the next ``get`` makes a new one); return it, to be closed."""
        with self._lock:
            value, self._value = self._value, None
        return value
