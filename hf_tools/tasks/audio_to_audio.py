"""audio-to-audio: source separation and speech enhancement; the audio parts go to files.

hf-inference takes the audio as raw bytes and answers one object per part,
``[{"label", "blob": base64 audio, "content-type"}]`` (a separation model: one part per
speaker; an enhancement model: one cleaned part). The bytes never reach the LLM's content:
it reads each part's label, format, length and saved path.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.artifacts import Base64Bytes, save_output
from hf_tools.errors import ResponseFormatError
from hf_tools.mime import detect_mime
from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    expect_objects,
    snippet,
)
from hf_tools.tasks._generated import kilobytes, require_mime, saved_to, wav_seconds
from hf_tools.tasks.automatic_speech_recognition import AUDIO_FIELD

_TASK = "audio-to-audio"


class AudioToAudioInput(ToolInput):
    """Arguments of the audio_to_audio tool."""

    audio: MediaRef = AUDIO_FIELD


class AudioPart(BaseModel):
    """One audio the model produced (a separated source, or the cleaned audio)."""

    model_config = ConfigDict(extra="allow")

    label: str
    audio: Base64Bytes = Field(repr=False)
    mime: str
    seconds: float | None = None
    path: Path | None = None


class AudioToAudioOutput(BaseModel):
    """The audio parts, in the model's order; ``save`` writes each to the output directory."""

    model_config = ConfigDict(extra="allow")

    parts: list[AudioPart]

    def save(self, directory: Path) -> list[Path]:
        """Write each part under its content-addressed name (:mod:`hf_tools.artifacts`)."""
        return save_output(self, directory)


def build(args: AudioToAudioInput, media: Mapping[str, Media]) -> Payload:
    """The audio itself, with its type (there are no parameters)."""
    return binary_payload(media["audio"], {})


def _part(item: Any) -> AudioPart:
    if not isinstance(item, Mapping) or not isinstance(item.get("blob"), str):
        msg = f"expected an audio part {{label, blob: base64, content-type}}, got {snippet(item)}"
        raise ResponseFormatError(msg, task=_TASK)
    audio = base64.b64decode(item["blob"].split(",")[-1], validate=True)  # data: URI tolerated
    # The bytes decide the type; the server's label only for formats we do not sniff.
    declared = item.get("content-type")
    mime = detect_mime(audio) or (declared if isinstance(declared, str) else None)
    mime = require_mime(mime, "audio/", audio, _TASK)
    label = item.get("label")
    extra = {k: v for k, v in item.items() if k not in {"label", "blob", "content-type"}}
    return AudioPart(
        label=label if isinstance(label, str) else "audio",
        audio=audio,
        mime=mime,
        seconds=wav_seconds(audio),
        **extra,
    )


def parse(data: Any, args: AudioToAudioInput) -> AudioToAudioOutput:
    """``[{label, blob, content-type}]`` (one object alone too) -> the decoded parts."""
    items = expect_objects(data, _TASK, "audio parts")
    return AudioToAudioOutput(parts=[_part(item) for item in items])


def render(out: AudioToAudioOutput) -> str:
    """``2 audio parts: label_0 (FLAC, 113 KB, saved to PATH); label_1 (...)``; no bytes."""

    def one(part: AudioPart) -> str:
        kind = part.mime.split("/")[-1].upper()
        length = f", {part.seconds:.1f} s" if part.seconds else ""
        return f"{part.label} ({kind}{length}, {kilobytes(part.audio)}{saved_to(part.path)})"

    if not out.parts:
        return "no audio returned"
    noun = "part" if len(out.parts) == 1 else "parts"
    return f"{len(out.parts)} audio {noun}: " + "; ".join(one(p) for p in out.parts[:10])


SPEC = TaskSpec(
    task=_TASK,
    description="Separate the voices in audio, or remove its noise. Returns each part's"
    " label and saved path.",
    input_model=AudioToAudioInput,
    output_model=AudioToAudioOutput,
    render=render,
    default_model="speechbrain/sepformer-wham",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="audio",
    example={"audio": "tests/fixtures/audio.flac"},
    media_fields=("audio",),
    hf_inference=HFInferenceWire(build, parse),
)
