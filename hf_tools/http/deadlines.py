"""One deadline per call: a context variable the sockets, lookups and reads keep to."""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from types import TracebackType

# The deadline of the call running in this thread / task (time.monotonic() seconds). A
# context variable, because the pools are shared while every call has its own deadline.
_deadline: ContextVar[float | None] = ContextVar("hf_tools_deadline", default=None)


def time_left() -> float | None:
    """Seconds left before the current call's deadline; None outside of one."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


class deadline:
    """Run the block under the deadline ``at`` (monotonic seconds), or an earlier outer one.

    A class, not a ``@contextmanager``: every call enters it more than once.
    """

    __slots__ = ("_at", "_token")

    def __init__(self, at: float | None) -> None:
        self._at = at
        self._token: Token[float | None] | None = None

    def __enter__(self) -> None:
        at, current = self._at, _deadline.get()
        if at is not None and (current is None or at < current):
            self._token = _deadline.set(at)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _deadline.reset(self._token)
            self._token = None


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left; ``error`` once the deadline has passed."""
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        msg = "the call's deadline has passed"
        raise error(msg)
    return left if timeout is None else min(timeout, left)
