"""``hf-tools mcp``: every offered tool over the Model Context Protocol (stdio, streamable HTTP).

Imports no LangChain: it is a host over :mod:`hf_tools.toolset`, like the CLI and the batch
runner. Needs the ``mcp`` extra (``pip install 'hf-tools[mcp]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hf_tools.mcp.server import ToolServer, mcp_tool

__all__ = ["ToolServer", "mcp_tool"]


def __getattr__(name: str) -> Any:
    # Lazy, so `hf-tools mcp --help` (hf_tools.mcp.cli) works without the SDK installed.
    if name in __all__:
        from hf_tools.mcp import server

        return getattr(server, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
