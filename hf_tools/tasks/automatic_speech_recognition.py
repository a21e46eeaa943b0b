"""automatic-speech-recognition: the words spoken in an audio file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.tasks._base import (
    HFInferenceWire,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    parse_as,
    wire_parameters,
)
from hf_tools.tasks._parameters import (
    AutomaticSpeechRecognitionParameters,
    AutomaticSpeechRecognitionPythonOnly,
)

AUDIO_FIELD = Field(description="Audio path, http(s) URL, data URI or base64.")


class AutomaticSpeechRecognitionInput(ToolInput, AutomaticSpeechRecognitionPythonOnly):
    """Arguments of the automatic_speech_recognition tool."""

    audio: MediaRef = AUDIO_FIELD
    return_timestamps: bool | None = Field(
        default=None, description="Also return timed chunks (in the artifact)."
    )


class Chunk(BaseModel):
    """A piece of the transcript with its start and end in seconds."""

    model_config = ConfigDict(extra="allow")

    text: str
    timestamp: list[float | None] | None = None


class AutomaticSpeechRecognitionOutput(BaseModel):
    """The transcript, and timed chunks when asked for."""

    model_config = ConfigDict(extra="allow")

    text: str
    chunks: list[Chunk] | None = None


def build(args: AutomaticSpeechRecognitionInput, media: Mapping[str, Media]) -> Payload:
    """Raw audio bytes, or base64 JSON with ``{"return_timestamps"}``."""
    params = wire_parameters(AutomaticSpeechRecognitionParameters, args)
    if not args.return_timestamps:  # false is the default: raw bytes stay possible
        params.pop("return_timestamps", None)
    return binary_payload(media["audio"], params)


def parse(data: Any, args: AutomaticSpeechRecognitionInput) -> AutomaticSpeechRecognitionOutput:
    """``{text, chunks?}`` (also inside a one-element list)."""
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    return parse_as(
        AutomaticSpeechRecognitionOutput, data, "automatic-speech-recognition", "transcript"
    )


def render(out: AutomaticSpeechRecognitionOutput) -> str:
    """The transcript text (timestamps stay in the artifact)."""
    return out.text.strip() or "(no speech recognised)"


SPEC = TaskSpec(
    task="automatic-speech-recognition",
    description="Transcribe speech in an audio file to text. Returns the transcript.",
    input_model=AutomaticSpeechRecognitionInput,
    output_model=AutomaticSpeechRecognitionOutput,
    render=render,
    default_model="jonatasgrosman/wav2vec2-large-xlsr-53-english",
    serving=(
        ("hf-inference", "jonatasgrosman/wav2vec2-large-xlsr-53-english"),
        ("fal-ai", "openai/whisper-large-v3"),
    ),
    family="audio",
    example={"audio": "tests/fixtures/audio.flac"},
    media_fields=("audio",),
    hf_inference=HFInferenceWire(build, parse),
)
