"""Every task in the registry is a working tool: schema, sync and async calls from its cassette."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig, ensure_config
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import ValidationError

from hf_tools.langchain.toolkit import HuggingFaceToolkit
from hf_tools.tasks import REGISTRY, TaskSpec
from hf_tools.testing import DUMMY_TOKEN

from .conftest import CASSETTES, FIXTURES, ROOT, task_toolkit

SPECS = list(REGISTRY.values())
IDS = [s.task for s in SPECS]


def _tool(spec: TaskSpec[Any, Any], token: str) -> tuple[HuggingFaceToolkit, BaseTool]:
    toolkit = task_toolkit(spec.task, token, allowed_roots=[FIXTURES, ROOT])
    return toolkit, toolkit.get_tool(spec.tool_name)


def _call(spec: TaskSpec[Any, Any]) -> dict[str, Any]:
    return {"name": spec.tool_name, "args": dict(spec.example), "id": "call-1", "type": "tool_call"}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_schema_is_described_and_accepts_the_example(spec: TaskSpec[Any, Any]) -> None:
    schema = spec.input_model.model_json_schema()
    assert spec.tool_name == spec.task.replace("-", "_")
    assert 20 < len(spec.description) <= 300
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{spec.task}.{name} has no description"
        assert "title" not in prop
    spec.input_model.model_validate(spec.example)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_task_has_a_success_cassette(spec: TaskSpec[Any, Any]) -> None:
    assert (CASSETTES / spec.task / "success.yaml").is_file()


def _check(message: Any, spec: TaskSpec[Any, Any], toolkit: HuggingFaceToolkit) -> None:
    assert isinstance(message, ToolMessage)
    assert message.status == "success", message.content
    assert message.tool_call_id == "call-1"
    assert isinstance(message.content, str) and message.content.strip()
    assert len(message.content) <= toolkit.max_content_chars
    assert not re.search(r"[A-Za-z0-9+/]{120,}", message.content), "base64 in the content"
    assert isinstance(message.artifact, spec.output_model)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_tool_call_sync(spec: TaskSpec[Any, Any], token: str, cassette: Any) -> None:
    toolkit, tool = _tool(spec, token)
    with cassette(f"{spec.task}/success"):
        _check(tool.invoke(_call(spec)), spec, toolkit)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
async def test_tool_call_async(spec: TaskSpec[Any, Any], token: str, cassette: Any) -> None:
    toolkit, tool = _tool(spec, token)
    with cassette(f"{spec.task}/success"):
        _check(await tool.ainvoke(_call(spec)), spec, toolkit)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_tool_parses_arguments_exactly_as_langchain_does(spec: TaskSpec[Any, Any]) -> None:
    # HFTool validates in one pass (see HFTool._parse_input); the result must not differ.
    _, tool = _tool(spec, "hf_x")
    for args in (dict(spec.example), {**spec.example, "nope": 1}, {}):
        try:
            expected = StructuredTool._parse_input(tool, dict(args), "call-1")
        except ValidationError as exc:
            with pytest.raises(ValidationError) as ours:
                tool._parse_input(dict(args), "call-1")
            assert ours.value.errors() == exc.errors()
            continue
        assert tool._parse_input(dict(args), "call-1") == expected


class _Recorder(BaseCallbackHandler):
    """What a tracer sees of a tool run."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, **kw: Any) -> None:
        self.events.append(("start", (serialized["name"], kw["run_id"], kw.get("metadata"))))

    def on_tool_end(self, output: Any, **kw: Any) -> None:
        self.events.append(("end", (output.status, kw["run_id"])))


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_tool_runs_are_traced(
    mode: str, token: str, cassette: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Callbacks see the run with our metadata, and the call to the service runs under the
    # tool's child config, so anything it starts is traced as a child of the tool run.
    spec = REGISTRY["text-classification"]
    toolkit, tool = _tool(spec, token)
    client: Any = toolkit.client if mode == "sync" else toolkit.async_client
    parents: list[Any] = []
    real = client.run_spec

    def traced_sync(*args: Any, **kw: Any) -> Any:
        parents.append(ensure_config()["callbacks"].parent_run_id)
        return real(*args, **kw)

    async def traced_async(*args: Any, **kw: Any) -> Any:
        parents.append(ensure_config()["callbacks"].parent_run_id)
        return await real(*args, **kw)

    monkeypatch.setattr(client, "run_spec", traced_sync if mode == "sync" else traced_async)
    recorder = _Recorder()
    config: RunnableConfig = {"callbacks": [recorder], "metadata": {"caller": "test"}}
    with cassette(f"{spec.task}/success"):
        if mode == "sync":
            message = tool.invoke(_call(spec), config)
        else:
            message = await tool.ainvoke(_call(spec), config)
    _check(message, spec, toolkit)
    (kind, (name, run_id, metadata)), end = recorder.events
    assert (kind, name) == ("start", spec.tool_name)
    assert metadata == {"caller": "test", "hf_task": spec.task, "hf_model": spec.default_model}
    assert end == ("end", ("success", run_id))
    assert parents == [run_id]


def test_readme_exists_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.index("make demo") < text.index("make test")


def test_python_only_arguments_cost_nothing_and_still_work() -> None:
    from hf_tools import HFClient, InputError, get_spec

    spec = get_spec("text-generation")
    assert {"top_p", "seed", "do_sample"}.isdisjoint(
        spec.input_model.model_json_schema()["properties"]
    )
    client = HFClient(api_key=DUMMY_TOKEN, provider="hf-inference")
    inputs = client.validate(spec, {"prompt": "p", "top_p": 0.9, "seed": 1})
    body = json.loads(client.prepare(spec, inputs, {}, "m").content)
    assert body["parameters"] == {"top_p": 0.9, "seed": 1}
    with pytest.raises(InputError, match="top_p"):
        client.validate(spec, {"prompt": "p", "top_p": 2})
