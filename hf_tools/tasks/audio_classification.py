"""audio-classification: what an audio clip is (speaker gender, emotion, sound events...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hf_tools.tasks._base import (
    HFInferenceWire,
    Label,
    Media,
    MediaRef,
    Payload,
    TaskSpec,
    ToolInput,
    binary_payload,
    labels_from,
    render_labels,
    wire_parameters,
)
from hf_tools.tasks._parameters import AudioClassificationParameters, AudioClassificationPythonOnly
from hf_tools.tasks.automatic_speech_recognition import AUDIO_FIELD


class AudioClassificationInput(ToolInput, AudioClassificationPythonOnly):
    """Arguments of the audio_classification tool."""

    audio: MediaRef = AUDIO_FIELD
    top_k: int | None = Field(default=None, ge=1, description="How many labels.")


class AudioClassificationOutput(BaseModel):
    """Labels, best first."""

    model_config = ConfigDict(extra="allow")

    labels: list[Label]


def build(args: AudioClassificationInput, media: Mapping[str, Media]) -> Payload:
    """Raw audio bytes, or base64 JSON with ``{"top_k"}``."""
    return binary_payload(media["audio"], wire_parameters(AudioClassificationParameters, args))


def parse(data: Any, args: AudioClassificationInput) -> AudioClassificationOutput:
    """``[{label, score}]``."""
    return AudioClassificationOutput(labels=labels_from(data, "audio-classification"))


def render(out: AudioClassificationOutput) -> str:
    """``male 0.9987, female 0.0013``."""
    return render_labels(out.labels)


SPEC = TaskSpec(
    task="audio-classification",
    description=(
        "Classify an audio clip (default model: speaker gender). Returns labels with scores."
    ),
    input_model=AudioClassificationInput,
    output_model=AudioClassificationOutput,
    render=render,
    default_model="alefiury/wav2vec2-large-xlsr-53-gender-recognition-librispeech",
    # No provider serves it since July 2025 (hf-inference dropped it, no other provider has
    # the task): offered only with a model or endpoint the user names.
    serving=(),
    family="audio",
    example={"audio": "tests/fixtures/audio.flac"},
    media_fields=("audio",),
    hf_inference=HFInferenceWire(build, parse),
)
