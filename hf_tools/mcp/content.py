"""A tool's result as MCP content: the bounded text, inline media, and resource links.

Pure: no I/O, no SDK session. :func:`tool_result` builds the ``CallToolResult`` of a
:class:`~hf_tools.toolset.ToolResult`; :func:`failure_result` that of a
:class:`~hf_tools.toolset.ToolFailure` the LLM can act on.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Literal

from mcp_types import (
    AudioContent,
    CallToolResult,
    ContentBlock,
    ImageContent,
    ResourceLink,
    TextContent,
)

from hf_tools.artifacts import BinaryPart
from hf_tools.toolset import ToolFailure, ToolResult

__all__ = ["AudioAs", "failure_result", "part_blocks", "tool_result"]

AudioAs = Literal["audio", "resource"]
"""How audio goes back: inline ``AudioContent`` (and a link), or a ``resource_link`` only."""


def part_blocks(
    part: BinaryPart, uri: str | None, *, audio_as: AudioAs, max_inline_bytes: int
) -> list[ContentBlock]:
    """The content blocks of one binary part: inline when a client can show it, and a link.

    Images inline as ``ImageContent``; audio as ``AudioContent`` unless ``audio_as`` is
    ``"resource"``; video and other files only as a link. A part larger than
    ``max_inline_bytes`` is only linked. ``uri`` None: the part was not kept (over the
    store's budget), so it is inlined when it may be and not linked.
    """
    blocks: list[ContentBlock] = []
    kind = part.mime.partition("/")[0]
    inline = len(part.data) <= max_inline_bytes
    if inline and kind == "image":
        blocks.append(ImageContent(data=_b64(part.data), mime_type=part.mime))
    elif inline and kind == "audio" and audio_as == "audio":
        blocks.append(AudioContent(data=_b64(part.data), mime_type=part.mime))
    if uri is not None:
        blocks.append(
            ResourceLink(
                uri=uri,
                name=part.name,
                mime_type=part.mime,
                size=len(part.data),
                description=f"{part.kind} made by the tool ({len(part.data)} bytes)",
            )
        )
    return blocks


def tool_result(
    result: ToolResult,
    keep: Callable[[BinaryPart], str | None],
    *,
    audio_as: AudioAs,
    max_inline_bytes: int,
) -> CallToolResult:
    """The MCP result of a successful call.

    Text first (what the LLM reads, bounded), then each binary part's blocks;
    ``structuredContent`` is the typed output as JSON (bytes as base64). ``keep`` stores a
    part and returns its resource URI (None when it was not kept).
    """
    content: list[ContentBlock] = [TextContent(text=result.text)]
    for part in result.parts():
        blocks = part_blocks(part, keep(part), audio_as=audio_as, max_inline_bytes=max_inline_bytes)
        content.extend(blocks)
    return CallToolResult(content=content, structured_content=result.data())


def failure_result(failure: ToolFailure) -> CallToolResult:
    """An ``isError`` result with the text the LLM reads in every host."""
    return CallToolResult(content=[TextContent(text=failure.text)], is_error=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
