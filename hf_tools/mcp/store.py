"""The binary parts a server handed out, kept to be read back as MCP resources.

A client that drops inline media (or cannot take audio or video at all) fetches the part
with ``resources/read`` on the ``resource_link`` it got. Parts are kept for the server's
life (one stdio session, or one HTTP process) until ``budget`` bytes are held; then the
oldest go first. Names are content-addressed (:func:`hf_tools.artifacts.content_name`), so
the same bytes are kept once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `hf-tools mcp --help` reads the budget below without loading pydantic
    from hf_tools.artifacts import BinaryPart

DEFAULT_RESOURCE_BUDGET = 256 * 1024 * 1024
"""Bytes of binary parts kept for ``resources/read`` (oldest dropped first)."""

__all__ = ["SCHEME", "PartStore"]

SCHEME = "hf-tools"
_PREFIX = f"{SCHEME}://artifacts/"


class PartStore:
    """Binary parts by URI, at most ``budget`` bytes in all (oldest evicted first)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._parts: OrderedDict[str, BinaryPart] = OrderedDict()
        self._held = 0

    @staticmethod
    def uri(part: BinaryPart) -> str:
        """The resource URI of ``part``."""
        return _PREFIX + part.name

    def add(self, part: BinaryPart) -> bool:
        """Keep ``part``; False when it alone is larger than the budget (not kept)."""
        uri = self.uri(part)
        if uri in self._parts:
            self._parts.move_to_end(uri)
            return True
        if len(part.data) > self.budget:
            return False
        while self._held + len(part.data) > self.budget:
            _, old = self._parts.popitem(last=False)
            self._held -= len(old.data)
        self._parts[uri] = part
        self._held += len(part.data)
        return True

    def get(self, uri: str) -> BinaryPart | None:
        """The part behind ``uri``, or None (never handed out, or evicted)."""
        return self._parts.get(uri)

    def parts(self) -> list[tuple[str, BinaryPart]]:
        """Every part held, oldest first."""
        return list(self._parts.items())
