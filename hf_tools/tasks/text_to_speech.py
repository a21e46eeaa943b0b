"""text-to-speech: speak a text aloud; the audio goes to the artifact (and a file), never content.

Inference Providers serve it by default (hf-inference has had no text-to-speech model since
July 2025; their adapters are in :mod:`hf_tools.providers`). A model named on hf-inference, or
an endpoint of its format, is sent ``{"inputs": text, "parameters": {}}`` and answers the audio
itself (the recorded espnet/kan-bayashi_ljspeech_vits call); its spec has no voice, so
``voice`` is not sent there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.artifacts import Base64Bytes, save_output
from hf_tools.errors import ResponseFormatError
from hf_tools.mime import detect_mime
from hf_tools.tasks._base import (
    GuardedParse,
    HFInferenceWire,
    Media,
    OptionalText,
    Payload,
    TaskSpec,
    ToolInput,
)
from hf_tools.tasks._generated import (
    kilobytes,
    require_mime,
    saved_to,
    wav_seconds,
)

_TASK = "text-to-speech"


class TextToSpeechInput(ToolInput):
    """Arguments of the text_to_speech tool."""

    text: str = Field(min_length=1, description="What to say.")
    voice: OptionalText = Field(default=None, description="Voice name, if the model has several.")


class TextToSpeechParameters(BaseModel):
    """The provider-side parameters of text-to-speech (unset ones are not sent)."""

    voice: str | None = None


class TextToSpeechOutput(BaseModel):
    """The spoken audio; ``save`` writes it to the output directory."""

    model_config = ConfigDict(extra="allow")

    audio: Base64Bytes = Field(repr=False)
    mime: str
    seconds: float | None = None
    path: Path | None = None

    def save(self, directory: Path) -> list[Path]:
        """Write the binary parts under content-addressed names (:mod:`hf_tools.artifacts`)."""
        return save_output(self, directory)


def parameters(args: TextToSpeechInput) -> dict[str, Any]:
    """The parameters that are set, as providers name them."""
    return TextToSpeechParameters(voice=args.voice).model_dump(exclude_none=True)


def build(args: TextToSpeechInput, media: Mapping[str, Media]) -> Payload:
    """hf-inference's body: ``{"inputs": text, "parameters": {}}``."""
    return Payload(json={"inputs": args.text, "parameters": {}})


def parse(data: Any, args: TextToSpeechInput) -> TextToSpeechOutput:
    """Audio bytes -> the audio with its type (from the magic bytes) and, for WAV, duration."""
    if not isinstance(data, bytes | bytearray):
        msg = "expected audio bytes from the server"
        raise ResponseFormatError(msg, task=_TASK)
    audio = bytes(data)
    mime = require_mime(detect_mime(audio), "audio/", audio, _TASK)
    return TextToSpeechOutput(audio=audio, mime=mime, seconds=wav_seconds(audio))


def render(out: TextToSpeechOutput) -> str:
    """``Generated WAV speech, 2.4 s, 75 KB, saved to PATH``; never the bytes."""
    kind = out.mime.split("/")[-1].upper()
    length = f", {out.seconds:.1f} s" if out.seconds else ""
    return f"Generated {kind} speech{length}, {kilobytes(out.audio)}{saved_to(out.path)}"


read = GuardedParse(parse, _TASK)
""":func:`parse` as the adapters call it: any failure is a ResponseFormatError naming the task."""

SPEC = TaskSpec(
    task=_TASK,
    description="Speak a text aloud. Returns the audio's format, length and saved path.",
    input_model=TextToSpeechInput,
    output_model=TextToSpeechOutput,
    render=render,
    default_model="hexgrad/Kokoro-82M",
    # The replicate answer is recorded (huggingface.js tapes); the other pairs follow the model
    # ids huggingface_hub 2.x's provider docs and tests name (cassettes/INDEX.md: "from docs").
    serving=(
        ("replicate", "hexgrad/Kokoro-82M"),
        ("fal-ai", "hexgrad/Kokoro-82M"),
        ("deepinfra", "hexgrad/Kokoro-82M"),
        ("together", "cartesia/sonic-2"),
    ),
    family="generation",
    example={"text": "Hello from hf-tools."},
    hf_inference=HFInferenceWire(build, parse, response="bytes"),
)
