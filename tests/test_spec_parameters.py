"""Every task-spec parameter reaches the wire, and the schema an LLM reads stays as curated.

``hf_tools/tasks/_parameters.py`` is generated from the specs in ``scripts/task-specs/``; these
tests regenerate it (stale -> fail), send each Python-only spec parameter through the task's
pure build function (no HTTP) and compare every generated task's LLM schema, byte for byte, with
``tests/fixtures/llm_schemas.json`` (the schemas before the spec parameters were added). A
deliberate change to an ``<Task>Input``'s wording rewrites that fixture: ``json.dumps`` of
``spec.input_model.model_json_schema()`` per task.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from hf_tools import HFClient, get_spec
from hf_tools.tasks import _parameters
from hf_tools.tasks._base import Media

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "llm_schemas.json"


def _generator() -> ModuleType:
    path = ROOT / "scripts" / "generate_parameters.py"
    spec = importlib.util.spec_from_file_location("generate_parameters", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
TASKS: tuple[str, ...] = GENERATOR.TASKS


def _prefix(task: str) -> str:
    return "".join(part.capitalize() for part in task.split("-"))


def _models(task: str) -> tuple[type[BaseModel], type[BaseModel]]:
    wire = getattr(_parameters, f"{_prefix(task)}Parameters")
    hidden = getattr(_parameters, f"{_prefix(task)}PythonOnly")
    return wire, hidden


def body(task: str, **args: Any) -> Any:
    """The JSON body the task's hf-inference build function makes for ``args``."""
    spec = get_spec(task)
    assert spec.hf_inference is not None
    media = {name: Media(b"\x89PNG fake", "image/png") for name in spec.media_fields}
    payload = spec.hf_inference.build(spec.input_model.model_validate(args), media)
    assert payload.json is not None, f"{task}: parameters must make a JSON body"
    return payload.json


def test_the_generated_module_is_fresh() -> None:
    assert (ROOT / "hf_tools" / "tasks" / "_parameters.py").read_text() == GENERATOR.render(), (
        "stale: run .venv/bin/python scripts/generate_parameters.py"
    )


def test_the_generated_module_says_it_is_generated() -> None:
    head = (ROOT / "hf_tools" / "tasks" / "_parameters.py").read_text()[:200]
    assert "generated" in head and "DO NOT EDIT" in head


@pytest.mark.parametrize("task", TASKS)
def test_every_spec_parameter_is_accepted_from_python(task: str) -> None:
    wire, _ = _models(task)
    accepted = set(get_spec(task).input_model.model_fields)
    assert set(wire.model_fields) <= accepted
    # The task modules send the generated model: the names stay importable from there.
    module = __import__(f"hf_tools.tasks.{task.replace('-', '_')}", fromlist=["_"])
    assert getattr(module, f"{_prefix(task)}Parameters") is wire


def _keys(value: Any, path: str = "") -> Any:
    """Every key path of a JSON value, in order."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}/{key}"
            yield from _keys(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _keys(item, f"{path}/{i}")


@pytest.mark.parametrize("task", TASKS)
def test_the_llm_schema_is_unchanged(task: str) -> None:
    before = json.loads(FIXTURE.read_text())[task]
    schema = get_spec(task).input_model.model_json_schema()
    # Equal JSON, keys in the same order; pydantic before 2.11 writes a float bound 0 as 0.0
    # (make test-lowest), which an LLM reads the same.
    assert json.loads(json.dumps(schema)) == json.loads(before)
    assert list(_keys(schema)) == list(_keys(json.loads(before)))
    _, hidden = _models(task)
    assert not set(hidden.model_fields) & set(schema["properties"])


# (task, the LLM's arguments, Python-only arguments, where the spec puts them in the body)
IMAGE = {"image": "x.png"}
AUDIO = {"audio": "x.flac"}
CASES: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = [
    (
        "audio-classification",
        AUDIO,
        {"function_to_apply": "sigmoid"},
        {"parameters": {"function_to_apply": "sigmoid"}},
    ),
    (
        "automatic-speech-recognition",
        AUDIO,
        {"generation_parameters": {"max_new_tokens": 20, "num_beams": 2}},
        {"parameters": {"generation_parameters": {"max_new_tokens": 20, "num_beams": 2}}},
    ),
    (
        "document-question-answering",
        {**IMAGE, "question": "Total?"},
        {"doc_stride": 64, "max_seq_len": 256, "max_question_len": 32, "word_boxes": ["a"]},
        {
            "parameters": {
                "doc_stride": 64,
                "max_question_len": 32,
                "max_seq_len": 256,
                "word_boxes": ["a"],
            }
        },
    ),
    (
        "feature-extraction",
        {"texts": ["hi"]},
        {"prompt_name": "query", "truncation_direction": "left"},
        {"prompt_name": "query", "truncation_direction": "left"},  # at the body's root
    ),
    ("fill-mask", {"text": "a <mask>."}, {"targets": ["b"]}, {"parameters": {"targets": ["b"]}}),
    (
        "image-classification",
        IMAGE,
        {"function_to_apply": "none"},
        {"parameters": {"function_to_apply": "none"}},
    ),
    (
        "image-segmentation",
        IMAGE,
        {"mask_threshold": 0.4, "overlap_mask_area_threshold": 0.7},
        {"parameters": {"mask_threshold": 0.4, "overlap_mask_area_threshold": 0.7}},
    ),
    (
        "image-to-image",
        {**IMAGE, "prompt": "Make it blue."},
        {"target_size": {"width": 512, "height": 256}, "seed": 3},  # the spec has no seed
        {"parameters": {"prompt": "Make it blue.", "target_size": {"width": 512, "height": 256}}},
    ),
    (
        "image-to-text",
        IMAGE,
        {"generation_parameters": {"do_sample": True, "early_stopping": "never"}},
        {"parameters": {"generation_parameters": {"do_sample": True, "early_stopping": "never"}}},
    ),
    ("object-detection", IMAGE, {"threshold": 0.5}, {"parameters": {"threshold": 0.5}}),
    (
        "question-answering",
        {"question": "q?", "context": "c"},
        {
            "doc_stride": 32,
            "max_answer_len": 10,
            "max_seq_len": 128,
            "max_question_len": 16,
            "handle_impossible_answer": True,
            "align_to_words": False,
        },
        {
            "parameters": {
                "doc_stride": 32,
                "max_answer_len": 10,
                "max_seq_len": 128,
                "max_question_len": 16,
                "handle_impossible_answer": True,
                "align_to_words": False,
            }
        },
    ),
    (
        "summarization",
        {"text": "long", "max_length": 60},
        {
            "truncation": "only_first",
            "clean_up_tokenization_spaces": True,
            "generate_parameters": {"num_beams": 4, "max_length": 99},
        },
        {
            "parameters": {
                "truncation": "only_first",
                "clean_up_tokenization_spaces": True,
                # The named argument wins over the same key given inside the dict.
                "generate_parameters": {"num_beams": 4, "max_length": 60},
            }
        },
    ),
    (
        "table-question-answering",
        {"question": "How many?", "table": {"a": ["1"]}},
        {"padding": "longest", "sequential": True, "truncation": True},
        {"parameters": {"padding": "longest", "sequential": True, "truncation": True}},
    ),
    (
        "text-to-image",
        {"prompt": "A cat."},
        {"scheduler": "DPMSolverMultistepScheduler"},
        {"parameters": {"scheduler": "DPMSolverMultistepScheduler"}},
    ),
    (
        "text-classification",
        {"text": "good"},
        {"function_to_apply": "softmax"},
        {"parameters": {"function_to_apply": "softmax"}},
    ),
    ("token-classification", {"text": "Ann"}, {"stride": 16}, {"parameters": {"stride": 16}}),
    (
        "translation",
        {"text": "hi"},
        {
            "truncation": "longest_first",
            "clean_up_tokenization_spaces": False,
            "generate_parameters": {"max_length": 40},
        },
        {
            "parameters": {
                "truncation": "longest_first",
                "clean_up_tokenization_spaces": False,
                "generate_parameters": {"max_length": 40},
            }
        },
    ),
    (
        "visual-question-answering",
        {**IMAGE, "question": "q?"},
        {"top_k": 2},
        {"parameters": {"top_k": 2}},
    ),
    (
        "zero-shot-classification",
        {"text": "t", "candidate_labels": ["a"]},
        {"hypothesis_template": "About {}."},
        {"parameters": {"hypothesis_template": "About {}."}},
    ),
    (
        "zero-shot-image-classification",
        {**IMAGE, "candidate_labels": ["cat"]},
        {"hypothesis_template": "A photo of {}."},
        {"parameters": {"hypothesis_template": "A photo of {}."}},
    ),
]


def _contains(whole: Any, part: Any) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and _contains(whole[k], v) for k, v in part.items()
        )
    return bool(whole == part)


def test_the_cases_cover_every_generated_task() -> None:
    assert sorted(case[0] for case in CASES) == sorted(TASKS)


@pytest.mark.parametrize(("task", "args", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_python_only_parameter_reaches_the_wire(
    task: str, args: dict[str, Any], extra: dict[str, Any], expected: Any
) -> None:
    sent = body(task, **args, **extra)
    assert _contains(sent, expected), sent
    wire, _ = _models(task)
    assert set(sent.get("parameters", {})) <= set(wire.model_fields)  # only the spec's names
    if "generate_parameters" in extra or "generation_parameters" in extra:
        key = "generate_parameters" if "generate_parameters" in extra else "generation_parameters"
        assert sent["parameters"][key] == expected["parameters"][key]  # exactly, no extras


def test_summarization_length_limits_go_inside_generate_parameters() -> None:
    sent = body("summarization", text="long", max_length=50, min_length=5)
    assert sent == {
        "inputs": "long",
        "parameters": {"generate_parameters": {"max_length": 50, "min_length": 5}},
    }


def test_unset_spec_parameters_are_not_sent() -> None:
    assert body("question-answering", question="q?", context="c") == {
        "inputs": {"question": "q?", "context": "c"},
        "parameters": {},
    }
    # Binary tasks with no parameters still send the raw bytes.
    spec = get_spec("image-classification")
    assert spec.hf_inference is not None
    raw = spec.hf_inference.build(
        spec.input_model.model_validate(IMAGE), {"image": Media(b"png", "image/png")}
    )
    assert raw.data == b"png" and raw.json is None


def test_spec_types_are_checked() -> None:
    with pytest.raises(ValidationError):  # not one of the spec's truncation strategies
        get_spec("summarization").input_model.model_validate({"text": "t", "truncation": "all"})
    with pytest.raises(ValidationError):  # a typo inside the generation parameters
        get_spec("image-to-text").input_model.model_validate(
            {**IMAGE, "generation_parameters": {"max_new_token": 5}}
        )


def test_hfclient_run_accepts_python_only_spec_parameters() -> None:
    client = HFClient(api_key="hf_x")
    spec = get_spec("question-answering")
    args = client.validate(spec, {"question": "q?", "context": "c", "doc_stride": 8})
    request = client.prepare(spec, args, {}, client.model_for(spec))
    assert json.loads(request.content)["parameters"] == {"doc_stride": 8}
