"""Every tool's schema passes OpenAI strict, Gemini and Anthropic rules, plain and strict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from hf_tools import HFChatModel, HFClient, HuggingFaceToolkit
from hf_tools.tasks import REGISTRY, TaskSpec, get_spec

from .conftest import EVERY_TOOL, FIXTURES, ROOT, task_toolkit
from .schema_rules import RULE_SETS, anthropic, gemini, openai_strict

ENDPOINTS = {s.task: "https://e.example/x" for s in REGISTRY.values() if s.needs_endpoint}
TOOLS: list[BaseTool] = HuggingFaceToolkit(api_key="hf_x", **EVERY_TOOL).get_tools()
IDS = [t.name for t in TOOLS]


def _plain(tool: BaseTool) -> list[dict[str, Any]]:
    schema = tool.tool_call_schema
    assert isinstance(schema, type) and issubclass(schema, BaseModel)
    assert tool.args_schema is not None and isinstance(tool.args_schema, type)
    return [schema.model_json_schema(), tool.args_schema.model_json_schema()]


def _strict(tool: BaseTool) -> dict[str, Any]:
    function = convert_to_openai_tool(tool, strict=True)["function"]
    assert function["strict"] is True
    parameters: dict[str, Any] = function["parameters"]
    return parameters


def test_every_task_is_checked() -> None:
    assert len(TOOLS) == len(REGISTRY)


@pytest.mark.parametrize("tool", TOOLS, ids=IDS)
@pytest.mark.parametrize("rules", ["gemini", "anthropic"])
def test_plain_schema_is_portable(tool: BaseTool, rules: str) -> None:
    for schema in _plain(tool):
        assert RULE_SETS[rules](schema) == []


@pytest.mark.parametrize("tool", TOOLS, ids=IDS)
@pytest.mark.parametrize("rules", sorted(RULE_SETS))
def test_langchain_strict_schema_passes_every_rule_set(tool: BaseTool, rules: str) -> None:
    assert RULE_SETS[rules](_strict(tool)) == []


def test_bind_tools_strict_sends_the_same_strict_schemas() -> None:
    bound: Any = HFChatModel(model="m", api_key="hf_x").bind_tools(TOOLS, strict=True)
    sent = [t["function"] for t in bound.kwargs["tools"]]
    assert all(f["strict"] is True for f in sent)
    assert [f["parameters"] for f in sent] == [_strict(t) for t in TOOLS]


WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "required": ["city"],
        },
    },
}


def test_bind_tools_strict_makes_openai_dicts_strict_too() -> None:
    # LangChain passes an OpenAI-format dict through as given: strict: true on a schema
    # OpenAI refuses (unit not required, no additionalProperties: false).
    assert openai_strict(convert_to_openai_tool(WEATHER, strict=True)["function"]["parameters"])
    bound: Any = HFChatModel(model="m", api_key="hf_x").bind_tools([WEATHER], strict=True)
    function = bound.kwargs["tools"][0]["function"]
    assert function["strict"] is True and openai_strict(function["parameters"]) == []
    assert function["parameters"]["required"] == ["city", "unit"]
    assert "additionalProperties" not in WEATHER["function"]["parameters"]  # caller's dict kept


class _Weather(BaseModel):
    """Weather in a city."""

    city: str
    unit: str | None = None


def test_structured_output_strict_sends_a_strict_schema() -> None:
    chain: Any = HFChatModel(model="m", api_key="hf_x").with_structured_output(
        _Weather, method="json_schema", strict=True
    )
    schema = chain.first.kwargs["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["city", "unit"] and schema["additionalProperties"] is False


def _body(task: str, args: dict[str, Any]) -> Any:
    spec = get_spec(task)
    client = HFClient(api_key="hf_x", models=dict(ENDPOINTS))
    request = client.prepare(spec, client.validate(spec, args), {}, client.model_for(spec))
    return json.loads(request.content)


@pytest.mark.parametrize("spec", list(REGISTRY.values()), ids=list(REGISTRY))
def test_null_means_absent(spec: TaskSpec[Any, Any], token: str, cassette: Any) -> None:
    # A strict-mode model fills every argument, null for each optional one it leaves out: the
    # request must be the recorded one for the example alone (the cassette matches bodies).
    properties = spec.input_model.model_json_schema()["properties"]
    args = {name: None for name in properties} | dict(spec.example)
    tool = task_toolkit(spec.task, token, allowed_roots=[FIXTURES, ROOT]).get_tool(spec.tool_name)
    with cassette(f"{spec.task}/success"):
        message = tool.invoke({"name": tool.name, "args": args, "id": "1", "type": "tool_call"})
    assert message.status == "success", message.content


def test_text_pair_null_or_empty_is_single_text_classification() -> None:
    single = _body("text-classification", {"text": "A"})
    assert single == {"inputs": "A", "parameters": {}}
    for absent in (None, ""):
        assert _body("text-classification", {"text": "A", "text_pair": absent}) == single


def test_texts_are_a_list_for_the_llm_and_a_string_stays_a_string() -> None:
    schema = get_spec("feature-extraction").input_model.model_json_schema()
    assert schema["properties"]["texts"]["type"] == "array"
    assert _body("feature-extraction", {"texts": "a"})["inputs"] == "a"  # cassettes: unchanged
    assert _body("feature-extraction", {"texts": ["a", "b"]})["inputs"] == ["a", "b"]


def test_custom_payload_is_a_json_string_and_an_object_is_still_taken() -> None:
    schema = get_spec("custom").input_model.model_json_schema()
    assert schema["properties"]["payload"]["type"] == "string"
    client = HFClient(api_key="hf_x", base_url="https://e.example/x", is_custom_endpoint=True)
    spec = get_spec("custom")
    for payload in ('{"inputs": "x"}', {"inputs": "x"}):
        inputs = client.validate(spec, {"payload": payload})
        request = client.prepare(spec, inputs, {}, "https://e.example/x")
        assert json.loads(request.content) == {"inputs": "x"}


# The validators find what issue 14 reported (so the tests above can fail).
OLD_TABLE = {
    "type": "object",
    "properties": {"query": {"type": "string"}, "table": {"type": "object"}},
    "required": ["query", "table"],
}


def test_rules_catch_the_reported_schemas() -> None:
    strict_old = convert_to_openai_tool({"name": "t", "parameters": OLD_TABLE}, strict=True)[
        "function"
    ]["parameters"]
    assert "$.table: an object without properties accepts only {}" in openai_strict(strict_old)
    assert gemini(OLD_TABLE) == ["$.table: an object needs properties"]
    texts = {
        "type": "object",
        "properties": {"texts": {"anyOf": [{"type": "string"}, {"type": "array"}]}},
    }
    assert any("anyOf other than [T, null]" in v for v in gemini(texts))
    bounded = {"type": "object", "properties": {"t": {"type": "number", "exclusiveMinimum": 0}}}
    assert gemini(bounded) == ["$.t: field 'exclusiveMinimum' is not in Gemini's Schema"]
    open_map = {
        "type": "object",
        "properties": {"m": {"type": "object", "additionalProperties": True}},
    }
    assert "$.m: additionalProperties maps are not supported" in gemini(open_map)
    optional = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
    }
    assert openai_strict(optional) == ["$: properties not required: ['a']"]
    assert anthropic({"anyOf": [OLD_TABLE]}) == [
        "$: input_schema must have type object",
        "$: anyOf at the top level",
    ]
    assert gemini({"$defs": {}, "type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}}) == [
        "$: field '$defs' is not in Gemini's Schema",
        "$.a: field '$ref' is not in Gemini's Schema",
    ]


def test_similar_arguments_share_names() -> None:
    names = {
        s.tool_name: set(s.input_model.model_json_schema()["properties"]) for s in REGISTRY.values()
    }
    asking = [tool for tool, args in names.items() if "question" in tool]
    assert asking and all("question" in names[tool] for tool in asking)
    assert [tool for tool, args in names.items() if "query" in args] == ["ranking"]


def test_translation_promises_only_what_the_default_model_does() -> None:
    spec = get_spec("translation")
    assert spec.default_model == "google-t5/t5-small"
    assert "English to German only" in spec.description
    properties = spec.input_model.model_json_schema()["properties"]
    assert all("multilingual" in properties[k]["description"] for k in ("src_lang", "tgt_lang"))


def test_the_fit_snippet_runs_and_prints_what_it_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tools_page = (Path(__file__).parent.parent / "docs" / "tools.md").read_text(encoding="utf-8")
    section = tools_page.split("## Fit", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/tools.md#fit", "exec"), {})
    expected = code.rsplit("# ", 1)[1].strip()
    assert capsys.readouterr().out.strip() == expected
