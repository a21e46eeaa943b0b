"""Reading a 2xx event stream, the same way for every stream hf-tools opens.

:func:`iter_events` / :func:`aiter_events` read the still-open response of a stream request
(sent through the one send path of :mod:`hf_tools.http`: retries, error mapping, the call's
deadline) with the body cap and deadline of :func:`hf_tools.http.iter_body`, decode it with
:mod:`hf_tools.sse`, and hand each event payload to an :class:`EventReader` that turns it into
items (text-generation chunks here, chat chunks in :mod:`hf_tools.langchain.chat`). The sync
and async readers differ only in the I/O.

:class:`TextGenerationReader` reads both text-generation streams: TGI's
(``data:{"token": {...}, "generated_text", "details"}``) and the OpenAI-style completion stream
of the providers (``data:{"choices": [{"text", "finish_reason"}]}`` then ``data: [DONE]``). An
``{"error": ...}`` event becomes the typed error; a stream cut before its end is
:class:`~hf_tools.errors.HFConnectionError`, never a short answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from hf_tools.chat_wire import raise_body_error
from hf_tools.errors import HFConnectionError, ResponseFormatError, snippet
from hf_tools.http import HFRequest, RawResponse, aiter_body, iter_body, redacting
from hf_tools.sse import PayloadDecoder, SurrogateJoiner, json_objects, payload_decoder
from hf_tools.tasks.text_generation import TextGenerationStreamOutput

__all__ = ["EventReader", "TextGenerationReader", "aiter_events", "iter_events"]

T = TypeVar("T")


class EventReader(Protocol[T]):
    """Event payloads in, items out; knows when the stream is over."""

    @property
    def done(self) -> bool:
        """True once the stream said it is over (no more bytes need reading)."""
        ...  # pragma: no cover - protocol

    def feed(self, payload: str) -> list[T]:
        """One event payload -> zero or more items (raises the typed error of an error event)."""
        ...  # pragma: no cover - protocol

    def close(self) -> list[T]:
        """End of the bytes: the last items; raises if the stream was cut."""
        ...  # pragma: no cover - protocol


def _decoder(raw: RawResponse) -> PayloadDecoder:
    # send_* hand back the still-open response of a 2xx stream (errors were read and raised).
    assert raw.stream is not None
    return payload_decoder(raw.stream.headers.get("content-type", ""))


def _fed(reader: EventReader[T], payloads: list[str], *, tail: bool = False) -> list[T]:
    items: list[T] = []
    for payload in payloads:
        if reader.done:
            break
        try:
            items += reader.feed(payload)
        except ResponseFormatError:
            if not tail:
                raise
            # An unterminated event at the end of the bytes is a cut, not bad JSON:
            # reader.close() reports it as such.
    return items


def iter_events(raw: RawResponse, request: HFRequest, reader: EventReader[T]) -> Iterator[T]:
    """The items of an open 2xx stream, read within its cap and the call's deadline.

    The response is closed when the reader is done, on an error, or when the consumer stops.
    """
    decoder = _decoder(raw)
    assert raw.stream is not None
    try:
        with redacting(request):
            for data in iter_body(raw, request):
                yield from _fed(reader, decoder.feed(data))
                if reader.done:
                    break
    finally:
        raw.stream.close()
    with redacting(request):
        tail = [*_fed(reader, decoder.flush(), tail=True), *reader.close()]
    yield from tail


async def aiter_events(
    raw: RawResponse, request: HFRequest, reader: EventReader[T]
) -> AsyncIterator[T]:
    """The asyncio twin of :func:`iter_events`."""
    decoder = _decoder(raw)
    assert raw.stream is not None
    try:
        with redacting(request):
            async for data in aiter_body(raw, request):
                for item in _fed(reader, decoder.feed(data)):
                    yield item
                if reader.done:
                    break
    finally:
        await raw.stream.aclose()
    with redacting(request):
        tail = [*_fed(reader, decoder.flush(), tail=True), *reader.close()]
    for item in tail:
        yield item


_TASK = "text-generation"


class TextGenerationReader:
    """Text-generation stream events (TGI or OpenAI completions) -> typed chunks.

    Args:
        model: the model named in errors.
    """

    def __init__(self, model: str | None = None) -> None:
        self.model = model
        self.done = False
        self.finished = False
        self._text = SurrogateJoiner()

    def feed(self, payload: str) -> list[TextGenerationStreamOutput]:
        """One event payload -> its chunks.

        Raises:
            APIError: an ``{"error": ...}`` event (``InvalidInputError`` for TGI's validation).
            ResponseFormatError: an event of neither shape.
        """
        if self.done:
            return []
        if payload.strip() == "[DONE]":
            self.done = True
            return []
        return [self._chunk(data) for data in json_objects(payload, _TASK)]

    def _chunk(self, data: Any) -> TextGenerationStreamOutput:
        if isinstance(data, list) and len(data) == 1:
            data = data[0]  # a server that ignored "stream": [{"generated_text": ...}]
        if not isinstance(data, Mapping):
            msg = f"expected a stream event object, got {snippet(data)}"
            raise ResponseFormatError(msg, task=_TASK, model=self.model)
        if data.get("error"):
            raise_body_error(data, None, self.model, task=_TASK)
        if isinstance(data.get("token"), Mapping):
            return self._tgi(data)
        if isinstance(data.get("generated_text"), str):  # a whole answer, not a stream
            self.finished = True
            text = data["generated_text"]
            return TextGenerationStreamOutput(text=text, generated_text=text)
        choices = data.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
            return self._completion(choices[0])
        msg = f"expected a TGI token or a completion chunk, got {snippet(data)}"
        raise ResponseFormatError(msg, task=_TASK, model=self.model)

    def _tgi(self, data: Mapping[str, Any]) -> TextGenerationStreamOutput:
        token = data["token"]
        details = data.get("details") if isinstance(data.get("details"), Mapping) else None
        final = data.get("generated_text") is not None or details is not None
        self.finished = self.finished or final
        return TextGenerationStreamOutput(
            text=self._text.feed(str(token.get("text") or "")),
            token_id=token.get("id"),
            logprob=token.get("logprob"),
            special=bool(token.get("special")),
            generated_text=data.get("generated_text"),
            finish_reason=(details or {}).get("finish_reason"),
            details=dict(details) if details is not None else None,
        )

    def _completion(self, choice: Mapping[str, Any]) -> TextGenerationStreamOutput:
        finish = choice.get("finish_reason")
        self.finished = self.finished or bool(finish)
        text = choice.get("text")
        if text is None:  # some servers stream completions as chat deltas
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, Mapping) else None
        return TextGenerationStreamOutput(
            text=self._text.feed(str(text or "")), finish_reason=finish or None
        )

    def close(self) -> list[TextGenerationStreamOutput]:
        """End of the bytes: a held half of a character, if any.

        Raises:
            HFConnectionError: the stream stopped before its last token or ``[DONE]``.
        """
        if not (self.done or self.finished):
            msg = "the stream ended before the model finished (connection cut?)"
            raise HFConnectionError(msg, task=_TASK, model=self.model)
        rest = self._text.flush()
        return [TextGenerationStreamOutput(text=rest)] if rest else []
