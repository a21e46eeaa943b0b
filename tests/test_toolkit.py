"""Toolkit selection, naming and what it refuses."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from hf_tools import REGISTRY, ConfigurationError, HuggingFaceToolkit
from hf_tools.cli import schema_bytes
from hf_tools.langchain.tools import HFToolError

from .conftest import EVERY_TOOL


def test_default_with_a_token_is_every_task_some_provider_serves() -> None:
    # "auto" by default, as InferenceClient: every task a provider serves with a default
    # model, in registry order, and the vision-language tool, whose calls the router's chat
    # route gives a provider; the tasks nobody serves (ranking, captioning, ...) are not.
    toolkit = HuggingFaceToolkit(api_key="hf_x")
    served = [s.tool_name for s in REGISTRY.values() if s.serving or s.task == "image-text-to-text"]
    assert toolkit.tool_names == served
    assert len(served) == 22
    assert {"text_generation", "text_to_speech", "image_to_image", "text_to_video"} <= set(served)
    assert toolkit.client.settings.provider_for("summarization") == "auto"
    assert schema_bytes(toolkit) < 16_000  # paid on every LLM call


def test_default_without_a_token_and_hf_inference_keep_the_hf_inference_set() -> None:
    # No token: no provider can be paid, so hf-inference's path as before; "hf-inference"
    # named keeps that behaviour with a token too (no Hub lookup).
    hf_inference = [
        "text_classification",
        "zero_shot_classification",
        "token_classification",
        "question_answering",
        "table_question_answering",
        "fill_mask",
        "summarization",
        "translation",
        "conversational",
        "feature_extraction",
        "sentence_embeddings",
        "image_classification",
        "object_detection",
        "image_segmentation",
        "image_text_to_text",  # as conversational: the router's chat route picks the provider
        "automatic_speech_recognition",
        "text_to_image",
    ]
    assert HuggingFaceToolkit().tool_names == hf_inference
    named = HuggingFaceToolkit(api_key="hf_x", provider="hf-inference")
    assert named.tool_names == hf_inference
    assert named.client.settings.provider_for("summarization") is None


def test_selection_keeps_the_given_order_and_drops_duplicates() -> None:
    toolkit = HuggingFaceToolkit(api_key="hf_x", tasks=["text-classification"] * 2)
    assert toolkit.tool_names == ["text_classification"]


def test_get_tool_by_name_or_task_id() -> None:
    toolkit = HuggingFaceToolkit(api_key="hf_x")
    assert toolkit.get_tool("text-classification") is toolkit.get_tool("text_classification")
    with pytest.raises(KeyError, match="available: text_classification"):
        toolkit.get_tool("nope")


def test_unknown_task_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="unknown task 'speling'; known tasks: "):
        HuggingFaceToolkit(api_key="hf_x", tasks=["speling"])
    with pytest.raises(ConfigurationError, match="models: unknown task 'nope'; known tasks: "):
        HuggingFaceToolkit(api_key="hf_x", models={"nope": "org/m"})


def test_models_keys_may_be_tool_names_as_tasks_are() -> None:
    toolkit = HuggingFaceToolkit(api_key="hf_x", models={"text_classification": "org/other"})
    assert toolkit.get_tool("text_classification").metadata["hf_model"] == "org/other"
    from hf_tools import HFClient

    assert HFClient(
        api_key="hf_x", models={"text_classification": "org/other"}
    ).settings.models == {"text-classification": "org/other"}


def test_models_override_is_used_by_the_tool() -> None:
    toolkit = HuggingFaceToolkit(api_key="hf_x", models={"text-classification": "org/other"})
    assert toolkit.get_tool("text_classification").metadata == {
        "hf_task": "text-classification",
        "hf_model": "org/other",
    }


def test_repr_never_shows_the_key() -> None:
    toolkit = HuggingFaceToolkit(api_key="hf_secret_value_123")
    assert "hf_secret_value_123" not in repr(toolkit)
    assert "hf_secret_value_123" not in repr(toolkit.client.settings)


def test_full_toolkit_schemas_stay_under_the_context_budget() -> None:
    # The same measure the benchmark reports: every schema in OpenAI tool format, compact JSON.
    # Every tool, including those that exist only as a configured endpoint.
    toolkit = HuggingFaceToolkit(api_key="hf_x", **EVERY_TOOL)
    assert len(toolkit.get_tools()) == len(REGISTRY)
    # 16 KB: optional arguments are nullable (anyOf [T, null]), which strict mode needs; the
    # speech, image-edit and video tools added 2.2 KB (their diffusion knobs left out); the
    # document, table, audio-part and vision-language tools 2.1 KB, paid for by moving seeds,
    # video lengths and segmentation subtasks to Python-only arguments.
    assert schema_bytes(toolkit) < 16_000


def test_importing_hf_tools_leaves_langchain_for_the_toolkit() -> None:
    # HFClient users should not pay langchain_core's import (~0.3 s); the toolkit loads it.
    code = (
        "import sys, hf_tools; assert 'langchain_core' not in sys.modules;"
        " hf_tools.HuggingFaceToolkit; assert 'langchain_core' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_every_recorded_answer_gives_bounded_content() -> None:
    # The benchmark's context-cost section, run as a test so it cannot rot: every 2xx body in
    # the cassettes goes through its tool, and no content exceeds the configured bound.
    from benchmarks.run import context_cost

    cost = context_cost()
    assert cost["tools"] == len(REGISTRY)
    assert cost["cassettes"] >= len(REGISTRY)
    assert cost["failed"] == []
    assert cost["largest_content"][0] <= cost["limit"]


def test_make_record_re_records_only_what_the_live_api_can_reproduce(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hf_tools.testing import record_mode_for

    from .conftest import CASSETTES

    assert record_mode_for(["text-classification/success.yaml"], CASSETTES) == "none"
    monkeypatch.setenv("HF_TOOLS_RECORD", "1")
    assert record_mode_for(["text-classification/success.yaml"], CASSETTES) == "all"
    # Hand-built (from docs, error scenarios): INDEX.md marks them "replayed".
    for name in ("agent/demo.yaml", "client/401.yaml", "ranking/success.yaml"):
        assert record_mode_for([name], CASSETTES) == "none", name
    # Several cassettes replayed as one cannot be recorded.
    pair = ["agent/demo.yaml", "image-to-text/success.yaml"]
    assert record_mode_for(pair, CASSETTES) == "none"


def test_every_cassette_is_listed_in_the_index() -> None:
    from .conftest import CASSETTES

    index = (CASSETTES / "INDEX.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| (\S+\.yaml) \|.*\| (?:replayed|re-recorded) \|$", index, re.M))
    on_disk = {p.relative_to(CASSETTES).as_posix() for p in CASSETTES.rglob("*.yaml")}
    assert listed == on_disk


async def test_a_bare_string_is_the_tools_first_argument(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    # LangChain hands a string input to a tool's first argument; ours must not crash on it.
    tool = toolkit.get_tool("text_classification")
    with cassette("text-classification/success", allow_playback_repeats=True):
        assert tool.invoke("I like you").startswith("POSITIVE")
        assert (await tool.ainvoke("I like you")).startswith("POSITIVE")
    with pytest.raises(HFToolError) as raised:
        toolkit.get_tool("question_answering").invoke("Who?")
    assert str(raised.value) == (
        "Invalid arguments for question_answering: context: Field required."
        " Fix the arguments and call the tool again."
    )
