"""``hf-tools mcp``: every offered tool over the Model Context Protocol (stdio, streamable HTTP).

Imports no LangChain: it is a host over :mod:`hf_tools.toolset`, like the CLI and the batch
runner. Needs the ``mcp`` extra (``pip install 'hf-tools[mcp]'``).
"""

from __future__ import annotations

from hf_tools.mcp.server import ToolServer, mcp_tool

__all__ = ["ToolServer", "mcp_tool"]
