r"""Server-Sent Events, decoded incrementally: bytes in, event payloads (and their JSON) out.

Every stream hf-tools reads (TGI's text generation, OpenAI-style completions and chat
completions) goes through :class:`SSEDecoder`; bytes are decoded with one incremental UTF-8
decoder, never chunk by chunk, so a character split across network chunks arrives whole.
:class:`SurrogateJoiner` does the same one level up: a JSON ``\ud83d`` escape in one event
and its ``\ude00`` in the next (a tokenizer that cut an emoji in two) join into one character.
No I/O and no LangChain here.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, Protocol

from hf_tools.errors import ResponseFormatError

__all__ = [
    "PayloadDecoder",
    "SSEDecoder",
    "SurrogateJoiner",
    "WholeBodyDecoder",
    "json_objects",
    "payload_decoder",
    "well_formed",
]


class PayloadDecoder(Protocol):
    """Bytes in, complete event payloads out; :meth:`flush` at the end of the bytes."""

    def feed(self, chunk: bytes) -> list[str]:
        """Add bytes; return the payloads of the events they completed."""
        ...  # pragma: no cover - protocol

    def flush(self) -> list[str]:
        """End of the bytes: the payloads still held."""
        ...  # pragma: no cover - protocol


class SSEDecoder:
    """Incremental Server-Sent Events decoder: bytes in, event ``data`` payloads out.

    Follows the SSE spec: lines end in LF, CRLF or CR (possibly split across chunks), ``data:``
    lines of one event are joined with newlines, a blank line ends the event, comments
    (``:``) and other fields (``event:``, ``id:``, ``retry:``) are skipped. Multi-byte UTF-8
    characters may be split across chunks.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """Add bytes; return the payloads of the events they completed."""
        self._buffer += self._decoder.decode(chunk)
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of stream: return a last event that had no closing blank line."""
        self._buffer += self._decoder.decode(b"", final=True)
        events = self._drain(final=True)
        if self._buffer:
            events += self._line(self._buffer)
            self._buffer = ""
        if self._data:
            events.append("\n".join(self._data))
            self._data = []
        return events

    def _drain(self, *, final: bool) -> list[str]:
        events: list[str] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return events
            end, size = cut
            # A CR that ends the buffer may be the first half of a CRLF still on its way.
            last = end + 1 == len(self._buffer)
            if not final and last and self._buffer[end] == "\r":
                return events
            line, self._buffer = self._buffer[:end], self._buffer[end + size :]
            events += self._line(line)

    def _line(self, line: str) -> list[str]:
        if not line:
            if not self._data:
                return []
            event, self._data = "\n".join(self._data), []
            return [event]
        if line.startswith(":"):
            return []
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return []


def _line_end(text: str) -> tuple[int, int] | None:
    """Index and length of the first line terminator (LF, CRLF or CR), if any."""
    cr, lf = text.find("\r"), text.find("\n")
    if cr == -1 and lf == -1:
        return None
    if cr == -1 or (lf != -1 and lf < cr):
        return lf, 1
    return cr, 2 if text[cr + 1 : cr + 2] == "\n" else 1


class WholeBodyDecoder:
    """For servers that ignore ``stream: true`` and answer one JSON body: one payload."""

    def __init__(self) -> None:
        self._body = bytearray()

    def feed(self, chunk: bytes) -> list[str]:
        """Keep the bytes; nothing is complete before the end."""
        self._body += chunk
        return []

    def flush(self) -> list[str]:
        """The whole body as one payload."""
        return [self._body.decode("utf-8", errors="replace")] if self._body.strip() else []


def payload_decoder(content_type: str) -> PayloadDecoder:
    """The decoder for a 2xx stream answered with ``content_type`` (JSON: a whole body)."""
    json_body = content_type.split(";")[0].strip().lower() == "application/json"
    return WholeBodyDecoder() if json_body else SSEDecoder()


def json_objects(payload: str, task: str | None = None) -> list[Any]:
    """Parse an event payload; tolerate servers that put several ``data:`` objects in one event.

    Raises:
        ResponseFormatError: a payload that is not JSON.
    """
    try:
        return [json.loads(payload)]
    except (ValueError, RecursionError):  # RecursionError: nested too deep to read
        pass
    try:
        return [json.loads(line) for line in payload.split("\n") if line.strip()]
    except (ValueError, RecursionError):
        msg = f"the stream sent an event that is not JSON: {payload[:80]!r}"
        raise ResponseFormatError(msg, task=task) from None


def _high(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


class SurrogateJoiner:
    r"""Joins UTF-16 surrogate pairs that JSON escapes split across stream events.

    ``json.loads('"\ud83d"')`` is a lone surrogate: it cannot be encoded, and concatenated
    with the next event's ``"\ude00"`` it is still two code points, not one emoji. A high
    surrogate at the end of a piece is held back until the next piece; a surrogate left alone
    becomes U+FFFD, so every text handed out encodes as UTF-8.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        """The text of one event, with any pair it completes joined."""
        text, self._held = self._held + text, ""
        if text and _high(text[-1]):
            text, self._held = text[:-1], text[-1]
        return well_formed(text)

    def flush(self) -> str:
        """End of stream: a held high surrogate with no partner, as U+FFFD."""
        held, self._held = self._held, ""
        return "\ufffd" if held else ""


def well_formed(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates replaced by U+FFFD.

    A model that streams the two UTF-16 halves of an emoji as two JSON chunks gives two lone
    surrogates; text that holds one cannot be encoded as UTF-8, so it would break
    whatever writes it (an SSE stream, a JSON answer, a database).
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text
