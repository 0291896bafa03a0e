"""The one retry layer drivers share: bounded, with backoff, only for backend failures.

USER-NEEDS: retries stacked in several layers multiply into very long hangs,
and blind retries of non-idempotent calls create duplicates.  So drivers
switch their client library's own retries off and retry here, idempotent
calls only (reads, deletes), and only errors that say something about the
backend's health (``is_caller_error`` is false): a 404 or a 400 is never
retried.  The same classifier decides what a breaker counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tenacity

from .errors import AmphoraComputeError, is_caller_error

T = TypeVar("T")


def is_backend_failure(exc: BaseException) -> bool:
    """A translated error that a retry (or a breaker) should count."""
    return isinstance(exc, AmphoraComputeError) and not is_caller_error(exc)


def retry_backend_failures(call: Callable[[], T], retries: int, *,
                           backoff: float = 0.1, max_wait: float = 1.0) -> T:
    """``call()`` with up to ``retries`` more attempts after a backend failure.

    ``call`` must raise the contract's translated errors (wrap the client call
    in the driver's translation first).  The last error is re-raised as it is.
    """
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(1 + max(0, retries)),
        wait=tenacity.wait_exponential(multiplier=backoff, max=max_wait),
        retry=tenacity.retry_if_exception(is_backend_failure),
        reraise=True)
    return retrying(call)
