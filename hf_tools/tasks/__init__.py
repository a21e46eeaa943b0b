"""The task registry: one line per task, grouped by family, in the order tools are offered.

Adding a task = one module here (its contract, who serves it with which default model, its
family), one line below in its family's group, one folder in ``cassettes/``. The catalog
(:mod:`hf_tools.catalog`) and the toolset's families are derived from these specs.
"""

from __future__ import annotations

from typing import Any

from hf_tools.errors import ConfigurationError
from hf_tools.tasks import (
    audio_classification,
    audio_to_audio,
    automatic_speech_recognition,
    conversational,
    custom,
    document_question_answering,
    feature_extraction,
    fill_mask,
    image_classification,
    image_segmentation,
    image_text_to_text,
    image_to_image,
    image_to_text,
    image_to_video,
    object_detection,
    question_answering,
    ranking,
    sentence_embeddings,
    sentence_similarity,
    summarization,
    table_question_answering,
    tabular_classification,
    tabular_regression,
    text2text_generation,
    text_classification,
    text_generation,
    text_to_image,
    text_to_speech,
    text_to_video,
    token_classification,
    translation,
    visual_question_answering,
    zero_shot_classification,
    zero_shot_image_classification,
)
from hf_tools.tasks._base import TaskSpec

__all__ = ["FAMILIES", "REGISTRY", "TaskSpec", "get_spec"]

_SPECS: tuple[TaskSpec[Any, Any], ...] = (
    # text
    text_classification.SPEC,
    zero_shot_classification.SPEC,
    token_classification.SPEC,
    question_answering.SPEC,
    table_question_answering.SPEC,
    tabular_classification.SPEC,
    tabular_regression.SPEC,
    fill_mask.SPEC,
    summarization.SPEC,
    translation.SPEC,
    text2text_generation.SPEC,
    text_generation.SPEC,
    conversational.SPEC,
    feature_extraction.SPEC,
    sentence_embeddings.SPEC,
    sentence_similarity.SPEC,
    ranking.SPEC,
    # vision
    image_classification.SPEC,
    zero_shot_image_classification.SPEC,
    object_detection.SPEC,
    image_segmentation.SPEC,
    image_to_text.SPEC,
    visual_question_answering.SPEC,
    document_question_answering.SPEC,
    image_text_to_text.SPEC,
    # audio
    automatic_speech_recognition.SPEC,
    audio_classification.SPEC,
    audio_to_audio.SPEC,
    # generation
    text_to_image.SPEC,
    image_to_image.SPEC,
    text_to_video.SPEC,
    image_to_video.SPEC,
    text_to_speech.SPEC,
    # custom
    custom.SPEC,
)

REGISTRY: dict[str, TaskSpec[Any, Any]] = {spec.task: spec for spec in _SPECS}


def _families(specs: tuple[TaskSpec[Any, Any], ...]) -> dict[str, tuple[str, ...]]:
    """``{family: task ids}`` in registry order; each family's tasks must be one group."""
    families: dict[str, tuple[str, ...]] = {}
    previous = None
    for spec in specs:
        if spec.family in families and spec.family != previous:
            msg = f"{spec.task} is registered away from the other {spec.family} tasks"
            raise ConfigurationError(msg)
        families[spec.family] = (*families.get(spec.family, ()), spec.task)
        previous = spec.family
    return families


FAMILIES: dict[str, tuple[str, ...]] = _families(_SPECS)
"""Tool families, from the specs: a host offers them whole (``families=["vision"]``)."""


def get_spec(task: str) -> TaskSpec[Any, Any]:
    """The spec of a task id (``text-classification``) or tool name (``text_classification``).

    Raises:
        ConfigurationError: unknown task; the message lists the known ones.
    """
    spec = REGISTRY.get(task) or REGISTRY.get(task.replace("_", "-"))
    if spec is None:
        msg = f"unknown task {task!r}; known tasks: {', '.join(REGISTRY)}"
        raise ConfigurationError(msg)
    return spec
