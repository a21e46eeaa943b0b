"""A body of another task's shape is a ResponseFormatError, never a wrong answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from hf_tools import REGISTRY
from hf_tools.errors import ResponseFormatError

from .conftest import CASSETTES

# Tasks whose answers have genuinely one shape: each reads the others' bodies, as it must.
_SAME_SHAPE = (
    # [{label, score}] (or the older {labels, scores}); ranking's cross-encoder answers a
    # text-classification list per pair; custom's recorded endpoint is a text classifier.
    {
        "text-classification",
        "zero-shot-classification",
        "image-classification",
        "zero-shot-image-classification",
        "audio-classification",
        "ranking",
        "custom",
    },
    {"text-generation", "text2text-generation", "image-to-text"},  # [{generated_text}]
    {"conversational", "image-text-to-text"},  # chat completions, a vision model's too
    # a document answer is extractive QA's {answer, score, start, end} or a generative
    # model's {answer, score?}, as visual question answering's
    {"question-answering", "document-question-answering"},
    {"visual-question-answering", "document-question-answering"},
    {"text-to-image", "image-to-image"},  # the image's bytes
    {"feature-extraction", "sentence-embeddings", "sentence-similarity"},  # lists of floats
    # one number per item: a prediction per table row, a score per sentence (the tabular
    # parsers refuse a list whose length is not the table's row count, such as a vector)
    {"tabular-classification", "tabular-regression", "sentence-similarity"},
    # and a pooled embedding is a list of numbers of any length, a row's predictions too
    {"feature-extraction", "sentence-embeddings", "tabular-classification", "tabular-regression"},
)


def _same_shape(parser_task: str, body_task: str) -> bool:
    return any({parser_task, body_task} <= group for group in _SAME_SHAPE)


def _answer(task: str) -> Any:
    """The first inference answer of the task's success cassette (the Hub lookup skipped)."""
    recorded = yaml.safe_load((CASSETTES / task / "success.yaml").read_text(encoding="utf-8"))
    for interaction in recorded["interactions"]:
        if "/api/models/" in interaction["request"]["uri"]:
            continue
        body = interaction["response"]["body"]["string"]
        raw = body if isinstance(body, bytes) else body.encode()
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    raise AssertionError(task)


BODIES = {task: _answer(task) for task in REGISTRY}
# The custom tool returns whatever JSON its endpoint sends: no shape to hold it to.
PARSERS = [s for s in REGISTRY.values() if s.hf_inference is not None and s.task != "custom"]


@pytest.mark.parametrize("spec", PARSERS, ids=[s.task for s in PARSERS])
def test_each_parser_refuses_every_other_tasks_answer(spec: Any) -> None:
    assert spec.hf_inference is not None
    args = spec.input_model.model_validate(spec.example)
    accepted = []
    for task, body in BODIES.items():
        if task == spec.task or _same_shape(spec.task, task):
            continue
        try:
            spec.hf_inference.parse(body, args)
        except ResponseFormatError as exc:
            assert exc.task == spec.task
            continue
        accepted.append(task)
    assert accepted == [], f"{spec.task} read the answers of {accepted}"


def test_visual_question_answering_does_not_read_labels_as_empty_answers() -> None:
    spec = REGISTRY["visual-question-answering"]
    assert spec.hf_inference is not None
    args = spec.input_model.model_validate(spec.example)
    with pytest.raises(ResponseFormatError, match=r"missing \['answer'\]"):
        spec.hf_inference.parse([{"label": "POSITIVE", "score": 0.9}], args)
