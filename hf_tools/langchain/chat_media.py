"""Local image files in chat messages: read through the safe media path, sent inline.

A human message may carry an image as a LangChain image block (``{"type": "image", "url"}``)
or an OpenAI part (``{"type": "image_url", "image_url": {"url"}}``). An http(s) or ``data:``
URL goes as given (the provider fetches it); anything else is a local file, read like every
media input (:func:`hf_tools.media.resolve_media`: only inside ``allowed_roots``, capped at
``max_media_bytes``, its type from its bytes) and sent as a ``data:`` URI. Other messages and
blocks are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from hf_tools.config import Settings
from hf_tools.media import aresolve_media, resolve_media
from hf_tools.tasks._base import Media

__all__ = ["ainline_local_images", "inline_local_images"]

_AS_GIVEN = ("http://", "https://", "data:")


def _local_path(block: Any) -> str | None:
    """The local file an image block names, or None (not an image, or a URL to pass on)."""
    if not isinstance(block, dict):
        return None
    if block.get("type") == "image":
        url = block.get("url")
    elif block.get("type") == "image_url":
        inner = block.get("image_url")
        url = inner.get("url") if isinstance(inner, dict) else inner
    else:
        return None
    if not isinstance(url, str) or url.startswith(_AS_GIVEN):
        return None
    return url.removeprefix("file://")


def _inline(media: Media) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:{media.mime};base64,{media.b64()}"}}


def _paths(messages: Sequence[BaseMessage]) -> list[str]:
    return [
        path
        for m in messages
        if isinstance(m, HumanMessage) and isinstance(m.content, list)
        for block in m.content
        if (path := _local_path(block)) is not None
    ]


def _replaced(messages: Sequence[BaseMessage], read: dict[str, Media]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for m in messages:
        if isinstance(m, HumanMessage) and isinstance(m.content, list):
            content = [
                _inline(read[path]) if (path := _local_path(b)) is not None else b
                for b in m.content
            ]
            m = m.model_copy(update={"content": content})
        out.append(m)
    return out


def inline_local_images(
    messages: Sequence[BaseMessage], settings: Settings
) -> Sequence[BaseMessage]:
    """``messages`` with each local image file read and inlined (blocking file reads).

    Raises:
        MediaError: a file outside ``allowed_roots``, missing, too large or not an image.
    """
    paths = _paths(messages)
    if not paths:
        return messages
    return _replaced(messages, {p: resolve_media(p, settings) for p in paths})


async def ainline_local_images(
    messages: Sequence[BaseMessage], settings: Settings
) -> Sequence[BaseMessage]:
    """Async twin of :func:`inline_local_images`: files are read in a thread."""
    paths = _paths(messages)
    if not paths:
        return messages
    return _replaced(messages, {p: await aresolve_media(p, settings) for p in paths})
