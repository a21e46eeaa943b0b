"""What the tool layer shares with the clients, without loading the HTTP stack.

:class:`Closeable`, the message of arguments that did not validate, and the progress hook a
host sets around an async call. :mod:`hf_tools.client` and :mod:`hf_tools.flow` import httpx2;
this module does not, so building a :class:`~hf_tools.toolset.Toolset` and reading its tools'
schemas (``hf-tools list``, an MCP server's tool list) never loads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar

from pydantic import ValidationError

from hf_tools.tasks._base import TaskSpec

__all__ = ["ON_POLL", "AnySpec", "Closeable", "PollHook", "validation_message"]

AnySpec = TaskSpec[Any, Any]

PollHook = Callable[[int, float], Awaitable[None]]
"""``(poll number from 1, seconds since the call began)``, awaited before each job poll."""

ON_POLL: ContextVar[PollHook | None] = ContextVar("hf_tools_on_poll", default=None)
"""The progress hook of the async calls in this context (None: no one is watching)."""


def validation_message(spec: AnySpec, exc: ValidationError) -> str:
    """A short, fixable description of invalid arguments (what an LLM reads)."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return f"Invalid arguments for {spec.tool_name}: " + "; ".join(parts)


C = TypeVar("C", bound="Closeable")


class Closeable:
    """``close()``, ``aclose()`` and both context managers, over the subclass's two methods."""

    def close(self) -> None:
        """Free the connection pools."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Free the connection pools, from async code."""
        self.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self: C) -> C:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
