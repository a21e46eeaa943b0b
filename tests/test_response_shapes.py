"""Property tests: whatever 2xx body a server sends, a parser answers or raises the typed error.

Every registered task's ``parse`` and the chat model's completion and stream parsing get real
bodies (the recorded cassettes) with random parts replaced by arbitrary JSON (NaN, Infinity
and 400-digit integers included), and plain arbitrary JSON. Only two outcomes are allowed: an
output of the task's model that renders to text, or a ResponseFormatError (an ``{"error"}``
object in a 2xx body stays its APIError). Never a TypeError, KeyError or pydantic error.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage

from hf_tools import (
    REGISTRY,
    APIError,
    AsyncHFClient,
    HFClient,
    ResponseFormatError,
    TaskSpec,
    make_tool,
)
from hf_tools.langchain.chat import StreamAssembler, parse_completion

from .conftest import CASSETTES

SPECS = list(REGISTRY.values())
IDS = [s.task for s in SPECS]
# Tasks only providers serve have no hf-inference parser; their adapters read the result
# file with the task module's guarded ``read``, which must hold to the same property.
READERS = {
    s.task: importlib.import_module(f"hf_tools.tasks.{s.tool_name}").read
    for s in SPECS
    if s.hf_inference is None
}

DELETE = object()  # a mutation that removes a key or an item

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -1, 0, math.nan, math.inf, -math.inf, 1e308])
    | st.floats()
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _responses(folder: str) -> Iterator[tuple[str, str]]:
    """(content type, body) of every recorded 2xx answer under cassettes/<folder>."""
    for path in sorted((CASSETTES / folder).glob("*.yaml")):
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            response = interaction["response"]
            body = response["body"]["string"]
            if 200 <= response["status"]["code"] < 300 and isinstance(body, str):
                yield response["headers"]["content-type"][0], body


@functools.cache
def _templates(folder: str) -> list[Any]:
    bodies = [body for ctype, body in _responses(folder) if ctype.startswith("application/json")]
    return [json.loads(b) for b in bodies]


@functools.cache
def _stream_chunks() -> list[Any]:
    chunks = []
    for ctype, body in _responses("chat-completion"):
        if ctype.startswith("text/event-stream"):
            lines = (line[5:].strip() for line in body.splitlines() if line.startswith("data:"))
            chunks += [json.loads(line) for line in lines if line != "[DONE]"]
    return chunks


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:3]):
            yield from _paths(child, (*prefix, i))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    child = _replace(copy[head], rest, new)
    if child is DELETE:
        del copy[head]
    else:
        copy[head] = child
    return copy


@st.composite
def mutated(draw: st.DrawFn, templates: list[Any]) -> Any:
    """A recorded body with 1-3 random subtrees replaced or removed, or arbitrary JSON."""
    if not templates or draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    body = draw(st.sampled_from(templates))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(body))))
        new = draw(json_values | st.just(DELETE)) if path else draw(json_values)
        body = _replace(body, path, new)
    return body


def _reads(spec: TaskSpec[Any, Any], body: Any) -> None:
    """The one property: an output that renders, or the typed error."""
    inputs = spec.input_model.model_validate(spec.example)
    parse = spec.hf_inference.parse if spec.hf_inference else READERS[spec.task]
    try:
        out = parse(body, inputs)
    except ResponseFormatError as exc:
        assert exc.task == spec.task
        return
    except APIError:  # an {"error": ...} object in a 2xx chat body keeps its own class
        assert isinstance(body, dict) and body.get("error")
        return
    assert isinstance(out, spec.output_model)
    assert isinstance(spec.render(out), str)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_bodies_give_an_output_or_the_typed_error(
    spec: TaskSpec[Any, Any], data: Any
) -> None:
    folder = "chat-completion" if spec.task == "conversational" else spec.task
    body = data.draw(mutated(_templates(folder)), label="body")
    _reads(spec, body)


BROKEN = [
    [{}],
    [None],
    {},
    5,
    "x",
    None,
    [],
    [[]],
    [[None]],
    {"labels": 5, "scores": 5},
    {"labels": ["a"], "scores": ["high"]},
    {"choices": 5},
    {"choices": [5]},
    {"choices": {"0": {}}},
    {"choices": [{"message": 5}]},
    {"choices": [{"message": {"tool_calls": 5}}]},
    {"choices": [{"message": {"content": 5}}]},
    {"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": "abc"}},
    {"choices": [{"message": {"content": "hi"}}], "usage": 5},
    [{"label": "a", "score": math.nan}],
    [{"label": "a", "score": math.inf, "mask": "x"}],
    [1e400],
    [10**400],
    [{"index": 0, "score": math.nan}],
    [{"generated_text": 5}],
    {"similarities": [math.inf]},
]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("body", BROKEN, ids=repr)
def test_broken_bodies_give_an_output_or_the_typed_error(
    spec: TaskSpec[Any, Any], body: Any
) -> None:
    _reads(spec, body)


@pytest.mark.parametrize(
    ("task", "body"),
    [
        ("text-classification", {"labels": 5, "scores": 5}),  # was TypeError (zip)
        ("zero-shot-classification", [{"labels": 5, "scores": 5}]),
        ("image-segmentation", [{"label": "a", "mask": None}]),
        ("image-segmentation", [5]),
        ("feature-extraction", [["a", "b"]]),  # was rendered with a ValueError
        ("ranking", [10**400, 1]),  # was OverflowError
        ("sentence-similarity", [10**400, 1, 2]),
        ("conversational", {"choices": 5}),  # was TypeError
        ("conversational", {"choices": [{"message": 5}]}),  # was AttributeError
        ("conversational", {"choices": [{"message": {}}], "usage": {"prompt_tokens": "abc"}}),
    ],
    ids=repr,
)
def test_bodies_that_used_to_crash_are_response_format_errors(task: str, body: Any) -> None:
    spec = REGISTRY[task]
    with pytest.raises(ResponseFormatError) as info:
        spec.hf_inference.parse(body, spec.input_model.model_validate(spec.example))
    assert info.value.task == task and info.value.llm_fixable


@pytest.mark.parametrize("body", BROKEN, ids=repr)
def test_chat_parser_gives_a_result_or_the_typed_error(body: Any) -> None:
    try:
        result = parse_completion(body, model="m")
    except ResponseFormatError as exc:
        assert exc.model == "m"
        return
    assert isinstance(result.generations[0].message.text, str)


@settings(max_examples=100, deadline=None)
@given(body=mutated(_templates("chat-completion")))
def test_fuzzed_completions_give_a_result_or_the_typed_error(body: Any) -> None:
    try:
        result = parse_completion(body, model="m")
    except ResponseFormatError as exc:
        assert exc.task == "chat-completion" and exc.model == "m"
        return
    except APIError:
        assert isinstance(body, dict) and body.get("error")
        return
    assert isinstance(result.generations[0].message.text, str)


@settings(max_examples=100, deadline=None)
@given(events=st.lists(mutated(_stream_chunks()), min_size=1, max_size=4))
def test_fuzzed_stream_events_give_chunks_or_the_typed_error(events: list[Any]) -> None:
    assembler = StreamAssembler("m", seed=b"s")
    try:
        for event in events:
            for chunk in assembler.feed(json.dumps(event)):
                assert isinstance(chunk.text, str)
    except ResponseFormatError as exc:
        assert exc.model == "m"
    except APIError:
        assert any(isinstance(e, dict) and e.get("error") for e in events)


def test_a_non_object_stream_event_is_the_typed_error() -> None:
    with pytest.raises(ResponseFormatError, match="expected a chat completion object"):
        StreamAssembler("m").feed("[5]")


def test_a_stream_event_nested_too_deep_is_the_typed_error() -> None:
    with pytest.raises(ResponseFormatError, match="not JSON"):
        StreamAssembler("m").feed("[" * 100_000 + "]" * 100_000)


def test_tool_arguments_nested_too_deep_are_an_invalid_call() -> None:
    from hf_tools.langchain.chat import parse_tool_call

    deep = "[" * 100_000 + "]" * 100_000
    call = parse_tool_call({"id": "c", "function": {"name": "f", "arguments": deep}})
    assert call["type"] == "invalid_tool_call" and "RecursionError" in str(call["error"])


# --- what a caller and an LLM see -----------------------------------------------------------


def _answering(body: bytes) -> httpx2.MockTransport:
    headers = {"content-type": "application/json"}
    return httpx2.MockTransport(lambda request: httpx2.Response(200, content=body, headers=headers))


def test_the_error_names_task_and_model_and_the_llm_reads_what_to_do(token: str) -> None:
    client = HFClient(api_key=token, transport=_answering(b'{"labels": 5, "scores": 5}'))
    with pytest.raises(ResponseFormatError) as info:
        client.run("text-classification", text="hi")
    model = REGISTRY["text-classification"].default_model
    assert info.value.model == model and info.value.task == "text-classification"
    assert "{'labels': 5, 'scores': 5}" in str(info.value)
    tool = make_tool(REGISTRY["text-classification"], client, AsyncHFClient(api_key=token))
    reply = tool.invoke({"name": tool.name, "args": {"text": "hi"}, "id": "1", "type": "tool_call"})
    assert isinstance(reply, ToolMessage) and reply.status == "error"
    assert reply.content == (
        "expected a list of {label, score} from the server, got {'labels': 5, 'scores': 5}"
        f" [text-classification, {model}]. The answer could not be read; try again or use"
        " another tool."
    )


# Python's json reads the NaN/Infinity literals some servers write; JSON itself has none.
NON_FINITE = [
    ("text-classification", b'[[{"label":"POSITIVE","score":NaN}]]'),
    ("ranking", b"[Infinity, 0.5]"),
    ("sentence-similarity", b"[0.1, NaN, 0.3]"),
    ("feature-extraction", b"[0.1, NaN, 0.3]"),
    (
        "object-detection",
        b'[{"label":"a","score":-Infinity,"box":{"xmin":0,"ymin":0,"xmax":1,"ymax":1}}]',
    ),
]


@pytest.mark.parametrize(("task", "body"), NON_FINITE, ids=[t for t, _ in NON_FINITE])
def test_non_finite_scores_are_a_response_format_error(token: str, task: str, body: bytes) -> None:
    spec = REGISTRY[task]
    client = HFClient(api_key=token, transport=_answering(body))
    with pytest.raises(ResponseFormatError, match="finite") as info:
        client.run_spec(spec, spec.input_model.model_validate(spec.example))
    assert info.value.model == spec.default_model


BINARY = [s for s in SPECS if s.hf_inference and s.hf_inference.response == "bytes"]


@pytest.mark.parametrize("spec", BINARY, ids=[s.task for s in BINARY])
@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=64)
    | st.binary(max_size=40).map(lambda b: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b)
    | st.binary(max_size=40).map(lambda b: b"\xff\xd8\xff" + b)
)
def test_arbitrary_binary_answers_give_an_image_or_the_typed_error(
    spec: TaskSpec[Any, Any], body: bytes
) -> None:
    _reads(spec, body)
