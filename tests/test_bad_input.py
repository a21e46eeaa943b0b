"""Property tests: whatever an LLM sends, a tool answers with a message, never a crash.

Arbitrary or wrong-typed arguments must come back as a ``status="error"`` ToolMessage that
names the problem, and nothing may be sent. Arguments valid for the schema must build a
well-formed request. Every registry tool is covered; for image and audio tools the media is
already resolved (``tests/test_media.py`` covers what a media reference may be).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage

import hf_tools.flow
import hf_tools.media as media
from hf_tools import (
    REGISTRY,
    ConfigurationError,
    HFToolError,
    HFToolsError,
    HuggingFaceToolkit,
    InputError,
    TaskSpec,
    get_spec,
)
from hf_tools.http import HFRequest, json_body
from hf_tools.providers import Call, get_adapter, providers_for
from hf_tools.routing import DEFAULT_HUB_URL, MAPPINGS, mapping_url
from hf_tools.tasks._base import Media
from hf_tools.testing import DUMMY_TOKEN

from .conftest import CASSETTES, provider_flow, task_toolkit

SPECS = list(REGISTRY.values())
IDS = [s.task for s in SPECS]
MEDIA = Media(data=b"\x89PNG\r\n\x1a\n" + bytes(64), mime="image/png")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(autouse=True)
def _mapped(_fresh_mappings: None) -> None:
    """The Hub's mapping of each provider-only task's default model, as its cassette has it.

    Those tools resolve their provider before they read media: a test of bad input must not
    depend on a Hub request (none can be made here).
    """
    for url, body in _mappings().items():
        MAPPINGS.get(url, lambda _, b=body: b)


@functools.cache
def _mappings() -> dict[str, Any]:
    found = {}
    for spec in SPECS:
        if provider_flow(spec):
            path = CASSETTES / spec.task / "success.yaml"
            hub = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"][0]
            url = mapping_url(DEFAULT_HUB_URL, spec.default_model)
            found[url] = json.loads(hub["response"]["body"]["string"])
    return found


def _toolkit(spec: TaskSpec[Any, Any]) -> HuggingFaceToolkit:
    return _toolkit_for(spec.task)


@functools.cache
def _toolkit_for(task: str) -> HuggingFaceToolkit:
    # Built once per task: a toolkit opens connection pools, too slow to make per example.
    return task_toolkit(task, "hf_x")


def _strategy_for(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for values valid under one (compact) JSON-schema property."""
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    if "anyOf" in prop:
        return st.one_of([_strategy_for(p) for p in prop["anyOf"]])
    kind = prop.get("type")
    if kind == "string":
        return st.text(min_size=max(1, prop.get("minLength", 0)), max_size=30).filter(str.strip)
    if kind == "integer":
        return st.integers(prop.get("minimum", -5), prop.get("maximum", 50))
    if kind == "number":
        low = prop.get("minimum", prop.get("exclusiveMinimum", 0) + 0.01)
        return st.floats(low, prop.get("maximum", 10.0))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        item = _strategy_for(prop.get("items", {"type": "string"}))
        return st.lists(item, min_size=max(1, prop.get("minItems", 1)), max_size=3)
    if kind == "object":
        fields = {name: _strategy_for(sub) for name, sub in prop.get("properties", {}).items()}
        return st.fixed_dictionaries(fields)
    return json_values


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=st.dictionaries(st.text(max_size=12), json_values, max_size=4))
def test_arbitrary_args_give_a_message_and_send_nothing(
    spec: TaskSpec[Any, Any], args: dict[str, Any], sent: list[HFRequest]
) -> None:
    tool = _toolkit(spec).get_tool(spec.tool_name)
    call = {"name": tool.name, "args": args, "id": "1", "type": "tool_call"}
    try:
        spec.input_model.model_validate(args)
    except ValueError:
        msg = tool.invoke(call)
        assert isinstance(msg, ToolMessage) and msg.status == "error"
        assert str(msg.content).startswith(f"Invalid arguments for {spec.tool_name}: ")
        assert sent == []


# Rules a JSON schema cannot say, so that draws get past validation to the request builder.
RULES: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("fill-mask", "text"): st.text(max_size=20).map(lambda t: t.replace("<mask>", "") + " <mask>"),
    # Columns of one length, distinct names.
    ("table-question-answering", "table"): st.integers(1, 3).flatmap(
        lambda rows: st.lists(
            st.fixed_dictionaries(
                {
                    "column": st.text(min_size=1, max_size=5),
                    "cells": st.lists(st.text(), min_size=rows, max_size=rows),
                }
            ),
            min_size=1,
            max_size=3,
            unique_by=lambda c: c["column"],
        )
    ),
    ("custom", "payload"): st.fixed_dictionaries(
        {"inputs": json_values},
        optional={"parameters": st.dictionaries(st.text(max_size=8), json_values)},
    ),
}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("value", [["a list"], 42, 1.5, None, True], ids=repr)
async def test_inputs_that_are_not_arguments_give_a_message_and_send_nothing(
    spec: TaskSpec[Any, Any], value: Any, sent: list[HFRequest]
) -> None:
    # (A ToolCall's args are always an object: chat models put others in invalid_tool_calls.)
    # Plain input (chains, batches): the failure raises, carrying the message an agent reads.
    tool = _toolkit(spec).get_tool(spec.tool_name)
    with pytest.raises(HFToolError, match=f"^Invalid arguments for {spec.tool_name}: "):
        tool.invoke(value)
    with pytest.raises(HFToolError, match=f"^Invalid arguments for {spec.tool_name}: "):
        await tool.ainvoke(value)
    assert sent == []


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_schema_valid_args_build_a_well_formed_request(spec: TaskSpec[Any, Any], data: Any) -> None:
    schema = spec.input_model.model_json_schema()
    args = {
        name: data.draw(RULES.get((spec.task, name), _strategy_for(prop)), label=name)
        for name, prop in schema["properties"].items()
        if name in schema.get("required", []) or data.draw(st.booleans(), label=f"set {name}")
    }
    client = _toolkit(spec).client
    try:
        inputs = client.validate(spec, args)
    except HFToolsError:
        # Cross-field rules (mask token, equal columns) refuse some draws with a message;
        # assume() (not return) makes hypothesis fail if hardly any draw gets through.
        assume(False)
    media = dict.fromkeys(spec.media_fields, MEDIA)
    if provider_flow(spec):
        _provider_bodies_are_well_formed(spec, inputs, media)
        return
    try:
        request = client.prepare(spec, inputs, media, client.model_for(spec))
    except InputError as exc:  # the one refusal left at build time: NaN/Infinity in free JSON
        assert "numbers must be finite" in str(exc)
        return
    if request.headers["content-type"] != "application/json":
        assert spec.media_fields and request.content == MEDIA.data  # raw bytes, no parameters
        return
    body = json.loads(request.content, parse_constant=_not_json)
    if spec.hf_inference.chat:  # routes of their own (chat completions): messages, not inputs
        assert request.url.startswith("https://router.huggingface.co/")
        assert isinstance(body, dict) and body["messages"]
        return
    if spec.needs_endpoint:  # custom: the payload goes to its endpoint exactly as given
        assert request.url == spec.example_endpoint and body == args["payload"]
        return
    assert request.url.startswith("https://router.huggingface.co/hf-inference/models/")
    assert isinstance(body, dict) and "inputs" in body
    assert not _holds_none(body.get("parameters", {}))  # unset parameters are left out


def _provider_bodies_are_well_formed(
    spec: TaskSpec[Any, Any], inputs: Any, media: dict[str, Media]
) -> None:
    """A task only providers serve: no hf-inference body; each adapter builds a clean one."""
    assert "hf-inference" not in providers_for(spec.task)
    for provider in providers_for(spec.task):
        call = Call(task=spec.task, provider=provider, model="org/m", args=inputs, media=media)
        payload = get_adapter(provider, spec.task).start(call).request.payload
        assert payload is not None
        try:
            body = json.loads(json_body(payload.json), parse_constant=_not_json)
        except ValueError as exc:  # the flow's one refusal: infinity in a float argument
            assert "Out of range float values" in str(exc), exc
            continue
        assert not _holds_none(body), (provider, body)  # unset parameters are left out


def _not_json(name: str) -> Any:
    msg = f"{name} is not JSON"  # Python's json writes NaN/Infinity unless told not to
    raise AssertionError(msg)


def test_non_finite_numbers_are_refused_before_sending(sent: list[HFRequest]) -> None:
    tool = _toolkit_for("custom").get_tool("custom")
    with pytest.raises(HFToolError, match=r"^numbers must be finite: JSON has no NaN or Infinity"):
        tool.invoke({"payload": {"inputs": "x", "parameters": {"t": float("inf")}}})
    assert sent == []


def _holds_none(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_none(v) for v in value)
    return value is None


MEDIA_SPECS = [s for s in SPECS if s.media_fields]
# Text of any kind, surrogates and NULs included, after prefixes that steer it to each reader.
media_text = st.tuples(
    st.sampled_from(["", "http://", "https://", "data:image/png;base64,", "/", "~/", "tests/"]),
    st.text(st.characters(exclude_categories=()), max_size=30),
).map("".join)


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(*args: Any, **kw: Any) -> Any:
        raise OSError("no DNS in tests")

    monkeypatch.setattr(media, "_getaddrinfo", unknown)


@pytest.mark.usefixtures("no_dns")
@pytest.mark.parametrize("spec", MEDIA_SPECS, ids=[s.task for s in MEDIA_SPECS])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=media_text)
async def test_any_media_text_gives_an_error_message(
    spec: TaskSpec[Any, Any], text: str, sent: list[HFRequest]
) -> None:
    tool = _toolkit(spec).get_tool(spec.tool_name)
    for field in spec.media_fields:
        args = {**spec.example, field: text}
        call = {"name": tool.name, "args": args, "id": "1", "type": "tool_call"}
        for reply in (tool.invoke(call), await tool.ainvoke(call)):
            assert isinstance(reply, ToolMessage) and reply.status == "error"
            assert str(reply.content).encode("utf-8")  # printable, also in a JSON response
    # No inference request; a URL of a public address (http://1.0.0.0) may be fetched by the
    # pinned downloader (task None), which fails here as on a machine with no network.
    assert [r for r in sent if r.task is not None] == []


def test_an_unforeseen_argument_failure_is_a_message_and_configuration_still_raises(
    monkeypatch: pytest.MonkeyPatch, sent: list[HFRequest]
) -> None:
    tool = _toolkit_for("text-classification").get_tool("text_classification")
    call = {"name": tool.name, "args": {"text": "hi"}, "id": "1", "type": "tool_call"}

    def breaks(*args: Any) -> Any:
        raise TypeError(f"unhashable type: 'dict' (Authorization: Bearer {DUMMY_TOKEN})")

    monkeypatch.setattr(hf_tools.flow, "http_request", breaks)
    reply = tool.invoke(call)
    assert reply.status == "error"
    assert reply.content == (
        "text_classification could not use these arguments (TypeError)."
        " Fix the arguments and call the tool again."
    )

    def misconfigured(*args: Any) -> Any:
        raise ConfigurationError("no api key")

    monkeypatch.setattr(hf_tools.flow, "http_request", misconfigured)
    with pytest.raises(ConfigurationError):
        tool.invoke(call)
    assert sent == []


def _nested(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {}
    for _ in range(depth - 1):
        inner = {"a": inner}
    return inner


@pytest.mark.parametrize(
    ("payload", "refusal"),
    [
        ({"inputs": _nested(2000)}, "payload nests deeper than 64 levels"),
        ('{"inputs": ' + "[" * 2000 + "]" * 2000 + "}", "payload nests deeper than 64 levels"),
        ('{"inputs": ' + "[" * 100 + "]" * 100 + "}", "payload nests deeper than 64 levels"),
        ({"inputs": "x" * 1_000_001}, "payload is larger than 1000000 characters"),
        ('{"inputs": "' + "x" * 1_000_001 + '"}', "payload is larger than 1000000 characters"),
        ({"inputs": 10**5000}, "payload holds an integer too large for JSON numbers"),
        ({"inputs": {1, 2}}, "payload holds a set, not JSON"),
        ({"inputs": b"raw"}, "payload holds a bytes, not JSON"),
        ({"inputs": {1: "a"}}, "payload object keys must be strings"),
        ({"inputs": "\ud800"}, "payload holds a lone surrogate"),
    ],
    ids=[
        "deep",
        "deep-json",
        "deep-100",
        "large",
        "large-json",
        "int",
        "set",
        "bytes",
        "key",
        "utf",
    ],
)
async def test_custom_payloads_are_bounded(
    payload: Any, refusal: str, sent: list[HFRequest]
) -> None:
    tool = _toolkit_for("custom").get_tool("custom")
    call = {"name": "custom", "args": {"payload": payload}, "id": "1", "type": "tool_call"}
    for reply in (tool.invoke(call), await tool.ainvoke(call)):
        assert reply.status == "error"
        assert reply.content.startswith(
            f"Invalid arguments for custom: payload: Value error, {refusal}"
        )
    assert sent == []


def test_custom_payloads_at_the_bounds_are_sent(sent: list[HFRequest]) -> None:
    client = _toolkit_for("custom").client
    inputs = client.validate(get_spec("custom"), {"payload": {"inputs": _nested(63)}})
    request = client.prepare(get_spec("custom"), inputs, {}, client.model_for(get_spec("custom")))
    assert request.content.count(b"{") == 64
