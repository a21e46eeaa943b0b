"""The binary parts (images, masks, audio) of a tool's output, as the chatbot serves them.

Finding them is the core's (:func:`hf_tools.artifacts.binary_parts`: bytes, a checked MIME
type, a content-addressed name); this module only says which types a browser may show inline.
"""

from __future__ import annotations

from hf_tools.artifacts import OCTET_STREAM, BinaryPart, binary_parts
from hf_tools.mime import EXTENSIONS
from hf_tools.mime import extension as mime_extension

__all__ = ["OCTET_STREAM", "BinaryPart", "binary_parts", "extension", "served_type"]

# Content types a browser may render inline: raster images, audio, video (never SVG or HTML,
# which can run script; nor QuickTime, which most browsers do not play).
_INLINE = frozenset(EXTENSIONS) - {"video/quicktime"}


def extension(content_type: str) -> str:
    """The file extension of a content type this module gives (``bin`` for anything else)."""
    return mime_extension(content_type) if content_type in _INLINE else "bin"


def served_type(part: BinaryPart) -> str:
    """The content type the chatbot stores and serves a part as (inline types only)."""
    return part.mime if part.mime in _INLINE else OCTET_STREAM


def artifact_headers(artifact_id: str, content_type: str) -> tuple[str, dict[str, str]]:
    """The content type to answer and headers that keep a browser from running anything."""
    shown = content_type if extension(content_type) != "bin" else OCTET_STREAM
    disposition = "inline" if shown != OCTET_STREAM else "attachment"
    return shown, {
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'{disposition}; filename="{artifact_id}.{extension(shown)}"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
    }
