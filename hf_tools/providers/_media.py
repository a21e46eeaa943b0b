"""What the adapters of the generating tasks share: inline media, result files, binary answers.

Speech, image edits and videos come back as a file: a result URL to download (fal, replicate,
wavespeed, novita, together's videos), base64 in JSON (together's images) or the raw bytes
of the answer (together's and deepinfra's speech). Either way the task's own ``parse`` reads
the bytes, so every provider gives the same Output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from hf_tools.providers._base import (
    Adapter,
    Call,
    Done,
    Step,
    decode_data_uri,
    dig,
    download,
)
from hf_tools.tasks import text_to_image, text_to_speech
from hf_tools.tasks._base import GuardedParse, Media, Payload

__all__ = [
    "Parse",
    "base64_at",
    "binary",
    "data_uri",
    "file_at",
    "parsed",
    "speech_payload",
]

Parse = Callable[[Any, Any], BaseModel]
"""A task's guarded ``read``: the bytes of a file + the call's Input -> Output."""

read_image = GuardedParse(text_to_image.parse, "text-to-image")
"""text-to-image's parse for a downloaded image (any failure a ResponseFormatError)."""


def data_uri(media: Media) -> str:
    """``data:<mime>;base64,...``: how providers take an image or audio inline."""
    return f"data:{media.mime};base64,{media.b64()}"


def parsed(parse: Parse, call: Call[Any]) -> Callable[[bytes], Step]:
    """What to do with a downloaded file: the task's Output, and the call is over."""
    return lambda data: Done(parse(data, call.args))


def file_at(parse: Parse, *path: str | int) -> Callable[[Any, Call[Any]], Step]:
    """A step reading the result URL at ``path`` of a body, then downloading and parsing it."""

    def result(body: Any, call: Call[Any]) -> Step:
        return download(dig(body, call, *path), call, parsed(parse, call))

    return result


def base64_at(parse: Parse, *path: str | int) -> Callable[[Any, Call[Any]], Step]:
    """A step reading the base64 file at ``path`` of a body (together's ``data[0].b64_json``)."""

    def result(body: Any, call: Call[Any]) -> Step:
        encoded = dig(body, call, *path)
        if not isinstance(encoded, str):
            msg = "expected the file as base64 text"
            raise call.format_error(msg)
        return Done(parse(decode_data_uri(encoded, call), call.args))

    return result


def binary(provider: str, task: str, route: str, payload: Any, parse: Parse) -> Adapter[Any]:
    """An adapter at a fixed ``route`` whose answer is the file itself (speech as audio bytes).

    It is read as bytes, so capped by ``max_binary_bytes`` as every binary answer, not by the
    JSON cap; ``parse`` reads it as is.
    """
    return Adapter(
        provider=provider,
        task=task,
        route=lambda model: route,
        payload=payload,
        parse=lambda body, call: Done(parse(body, call.args)),
        expect="bytes",
    )


def speech_payload(call: Call[Any]) -> Payload:
    """OpenAI's ``/audio/speech`` body: ``{"input", "model", "voice"?}`` (together, deepinfra)."""
    body = {"input": call.args.text, "model": call.model}
    return Payload(json={**body, **text_to_speech.parameters(call.args)})
