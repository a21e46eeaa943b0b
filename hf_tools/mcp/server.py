"""The MCP server over a :class:`~hf_tools.toolset.Toolset`: one MCP tool per offered tool.

Built on the official SDK's :class:`mcp.server.mcpserver.MCPServer`, with its tool and
resource listings and calls answered from the toolset (no function signatures: the schemas
are the toolset's own, byte for byte):

* ``tools/list``: each tool's name, description and argument schema; annotations say the
  analysis tools only read (``readOnlyHint``) and every tool reaches a remote service
  (``openWorldHint``).
* ``tools/call``: the bounded text, inline images (and audio), a ``resource_link`` per
  binary part, ``structuredContent`` = the typed output as JSON. Fix-your-arguments and
  unavailable failures are ``isError`` results with the text the LLM reads in every host;
  a developer-must-act failure (auth, credits) is a JSON-RPC error, logged. Job polls are
  reported as progress notifications when the client sent a progress token; a cancelled
  request stops the call before its next request.
* ``resources/read``: the binary parts handed out (:class:`~hf_tools.mcp.store.PartStore`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, ToolAnnotations
from mcp_types import Resource as MCPResource
from mcp_types import Tool as MCPTool
from pydantic.networks import AnyUrl

from hf_tools import __version__
from hf_tools.artifacts import BinaryPart
from hf_tools.mcp.content import AudioAs, failure_result, tool_result
from hf_tools.mcp.store import DEFAULT_RESOURCE_BUDGET, PartStore
from hf_tools.toolset import DEVELOPER, PollHook, Tool, ToolFailure, Toolset

__all__ = ["DEFAULT_RESOURCE_BUDGET", "MAX_INLINE_BYTES", "ToolServer", "mcp_tool"]

log = logging.getLogger(__name__)

MAX_INLINE_BYTES = 8 * 1024 * 1024
"""A larger image or audio part is only linked, not inlined."""

_INSTRUCTIONS = (
    "Hugging Face inference tasks as tools. Binary results (images, audio, video) come as"
    " inline content where the client takes it and always as a resource link to read."
)

# Generation tools make something new (a file when an output directory is set); the others
# only analyse their input.
_WRITING_FAMILIES = frozenset({"generation", "custom"})


def mcp_tool(tool: Tool) -> MCPTool:
    """The MCP listing of one toolset tool: its name, description and schema, annotated."""
    reads_only = tool.family not in _WRITING_FAMILIES
    return MCPTool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.json_schema(),
        annotations=ToolAnnotations(
            title=tool.spec.task.replace("-", " ").capitalize(),
            read_only_hint=reads_only,
            destructive_hint=None if reads_only else False,
            idempotent_hint=reads_only,
            open_world_hint=True,
        ),
    )


def _progress_hook(context: Context[Any, Any] | None) -> PollHook | None:
    if context is None:
        return None

    async def report(polls: int, elapsed: float) -> None:
        message = f"the provider's job is still running (poll {polls}, {elapsed:.0f} s)"
        await context.report_progress(polls, None, message)

    return report


class ToolServer(MCPServer[Any]):
    """An MCP server offering every tool of ``toolset``."""

    def __init__(
        self,
        toolset: Toolset,
        *,
        audio_as: AudioAs = "audio",
        resource_budget: int = DEFAULT_RESOURCE_BUDGET,
        max_inline_bytes: int = MAX_INLINE_BYTES,
    ) -> None:
        """Serve ``toolset``'s tools.

        Args:
            toolset: the tools (their settings: provider, models, files, timeout).
            audio_as: ``"resource"`` sends audio only as a resource link (for clients that
                cannot take ``AudioContent``).
            resource_budget: bytes of binary parts kept for ``resources/read``.
            max_inline_bytes: larger parts are only linked.
        """
        super().__init__(
            "hf-tools", version=__version__, instructions=_INSTRUCTIONS, log_level="WARNING"
        )
        self.toolset = toolset
        self.store = PartStore(resource_budget)
        self.audio_as: AudioAs = audio_as
        self.max_inline_bytes = max_inline_bytes
        self._listing = [mcp_tool(tool) for tool in toolset.tools]

    async def list_tools(self) -> list[MCPTool]:
        """Every offered tool, in the toolset's order."""
        return list(self._listing)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult:
        """Run one tool; see the module docstring for what comes back.

        Raises:
            MCPError: no such tool, or a failure only the developer can fix.
        """
        try:
            tool = self.toolset.get(name)
        except KeyError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc.args[0])) from None
        try:
            result = await tool.arun(arguments, on_poll=_progress_hook(context))
        except ToolFailure as failure:
            if failure.kind == DEVELOPER:
                log.error("%s: %s", name, failure.text)
                raise MCPError(code=INTERNAL_ERROR, message=failure.text) from None
            return failure_result(failure)
        return tool_result(
            result, self._keep, audio_as=self.audio_as, max_inline_bytes=self.max_inline_bytes
        )

    def _keep(self, part: BinaryPart) -> str | None:
        return self.store.uri(part) if self.store.add(part) else None

    async def list_resources(self) -> list[MCPResource]:
        """The binary parts held, oldest first."""
        return [
            MCPResource(uri=uri, name=part.name, mime_type=part.mime, size=len(part.data))
            for uri, part in self.store.parts()
        ]

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents]:
        """The bytes of a part this server handed out.

        Raises:
            ResourceNotFoundError: never handed out, or dropped for the budget.
        """
        part = self.store.get(str(uri))
        if part is None:
            msg = f"no artifact {uri} (never produced here, or dropped to stay within budget)"
            raise ResourceNotFoundError(msg)
        return [ReadResourceContents(content=part.data, mime_type=part.mime)]
