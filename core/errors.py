"""The exception model, exactly as the spec names it, plus two of ours.

Every error a caller can see is an ``AmphoraComputeError`` (or
``NotImplementedError`` for an unsupported operation, as the spec says).
Drivers translate their client library's exceptions at their edge and keep the
original as ``__cause__``.

``caller_error`` marks errors that say something about the request, not about
the backend's health: they never count against a circuit breaker.
"""

from __future__ import annotations

from datetime import datetime


class AmphoraComputeError(Exception):
    """Root of every error this project raises; the catch-all for backend failures."""

    caller_error: bool = False

    def __init__(self, message: str = "", *, backend: str | None = None,
                 amphora_id: str | None = None, fault: str | None = None,
                 caller_error: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.amphora_id = amphora_id
        self.fault = fault
        if caller_error is not None:
            self.caller_error = caller_error

    def __str__(self) -> str:
        return self.message or self.__class__.__name__


class AmphoraBuildError(AmphoraComputeError):
    """An amphora of the requested type could not be built."""


class DeleteFailed(AmphoraComputeError):
    """The amphora could not be deleted."""


class InstanceNotFoundError(AmphoraComputeError):
    """No amphora matches the id or name asked for."""

    caller_error = True


class NotSuspendedError(AmphoraComputeError):
    """``resume()`` was called on an amphora that is not suspended."""

    caller_error = True


class InvalidRequestError(AmphoraComputeError, ValueError):
    """The request is malformed; ``field`` names what is wrong.  Nothing reached a backend."""

    caller_error = True

    def __init__(self, message: str, *, field: str | None = None, **kwargs: object) -> None:
        text = f"{field}: {message}" if field else message
        super().__init__(text, **kwargs)  # type: ignore[arg-type]
        self.field = field


class CircuitOpenError(AmphoraComputeError):
    """The backend's breaker is open: the call was refused without touching it.

    ``retry_at`` is when the breaker will next let a trial call through;
    ``last_error`` is a short text of the failure that tripped it.
    """

    caller_error = True

    def __init__(self, message: str, *, breaker: str, retry_at: datetime | None,
                 last_error: str | None = None, backend: str | None = None) -> None:
        super().__init__(message, backend=backend)
        self.breaker = breaker
        self.retry_at = retry_at
        self.last_error = last_error


class BackendUnavailableError(AmphoraComputeError):
    """The backend could not be reached or answered with a server error (counts for breakers)."""


class PluginError(AmphoraComputeError):
    """A plugin is broken or two plugins claim the same backend name."""

    caller_error = True


class ConfigError(AmphoraComputeError, ValueError):
    """The configuration is invalid; the message names the key and the problem."""

    caller_error = True


def is_caller_error(exc: BaseException) -> bool:
    """The one classifier shared by breakers and retries.

    Caller errors (bad request, not found, not suspended, not implemented,
    an open breaker) say nothing about the backend's health.
    """
    if isinstance(exc, NotImplementedError):
        return True
    return bool(getattr(exc, "caller_error", False))


def from_http_status(status: int | None, message: str, *, operation: str, backend: str,
                     amphora_id: str | None = None) -> AmphoraComputeError:
    """Translate an HTTP answer into the contract's error, the same way for every driver.

    404 -> InstanceNotFoundError; other 4xx -> a caller error of the operation's
    family; 5xx or no answer -> BackendUnavailableError (counted by breakers).
    """
    family: type[AmphoraComputeError] = {
        "build": AmphoraBuildError,
        "delete": DeleteFailed,
    }.get(operation, AmphoraComputeError)
    where = f"{backend} {operation}" + (f" {amphora_id}" if amphora_id else "")
    if status == 404:
        return InstanceNotFoundError(f"{where}: not found ({message})", backend=backend,
                                     amphora_id=amphora_id)
    if status is not None and 400 <= status < 500:
        return family(f"{where}: rejected with HTTP {status}: {message}", backend=backend,
                      amphora_id=amphora_id, fault=message, caller_error=True)
    if status is None:
        return BackendUnavailableError(f"{where}: backend unreachable: {message}",
                                       backend=backend, amphora_id=amphora_id)
    err = BackendUnavailableError if family is AmphoraComputeError else family
    return err(f"{where}: backend error HTTP {status}: {message}", backend=backend,
               amphora_id=amphora_id, fault=message, caller_error=False)


def http_status_of(exc: BaseException) -> int | None:
    """The HTTP status a client-library exception carries, whatever the library calls it.

    openstacksdk: ``status_code``; keystoneauth / ironicclient: ``http_status``;
    zunclient: ``code``.  None for connection errors and timeouts.
    """
    for attr in ("status_code", "http_status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None
