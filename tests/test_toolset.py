"""The core toolset: what settings offer (by name or family), one call, one failure rule."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest
from langchain_core.messages import ToolMessage

import hf_tools.http.send
from hf_tools import REGISTRY, HuggingFaceToolkit, Toolset
from hf_tools.catalog import DEFAULT_MODELS
from hf_tools.config import Settings
from hf_tools.errors import AuthenticationError, ConfigurationError
from hf_tools.http import HFRequest, RawResponse
from hf_tools.routing import MAPPINGS, hub_task
from hf_tools.toolset import FAMILIES, ToolFailure, family_of, offered_tasks

from .conftest import EVERY_TOOL, FIXTURES, ROOT

HUB = "https://huggingface.co/api/models/"


def _answers(status: int) -> Any:
    """Every Hub lookup maps the model to every provider; every other request gets ``status``."""

    def answer(request: HFRequest) -> RawResponse:
        if request.url.startswith(HUB):
            model = request.url[len(HUB) :].split("?")[0]
            mapping = [
                {"provider": p, "providerId": model, "status": "live", "task": hub_task(t)}
                for t, rows in DEFAULT_MODELS.items()
                for p, _ in rows
            ]
            body = json.dumps({"id": model, "inferenceProviderMapping": mapping}).encode()
            headers = httpx2.Headers({"content-type": "application/json"})
            return RawResponse(200, headers, body)
        body = json.dumps({"error": "the service failed"}).encode()
        return RawResponse(status, httpx2.Headers({"content-type": "application/json"}), body)

    return answer


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Requests are answered by :func:`_answers` (500 unless the test changes ``status[0]``)."""
    status = [500]
    MAPPINGS.clear()  # the service answers the Hub lookups, not the recorded mappings

    def sync(client: Any, request: HFRequest) -> RawResponse:
        return _answers(status[0])(request)

    async def asyn(client: Any, request: HFRequest) -> RawResponse:
        return _answers(status[0])(request)

    monkeypatch.setattr(hf_tools.http.send, "_exchange_sync", sync)
    monkeypatch.setattr(hf_tools.http.send, "_exchange_async", asyn)
    return status


_WAYS = [
    *((s.task, {"models": {s.task: "https://endpoint.example/e"}}) for s in REGISTRY.values()),
    *((task, {"provider": p}) for task, rows in DEFAULT_MODELS.items() for p, _ in rows),
    *((s.task, {"provider": "auto"}) for s in REGISTRY.values()),
]


@pytest.mark.parametrize(("task", "settings"), _WAYS, ids=[f"{t}-{s}" for t, s in _WAYS])
async def test_no_tool_offered_raises_out_of_an_agent_turn(
    task: str, settings: dict[str, Any], service: list[int]
) -> None:
    toolkit = HuggingFaceToolkit(api_key="hf_x", allowed_roots=[FIXTURES, ROOT], **settings)
    spec = REGISTRY[task]
    if spec.tool_name not in toolkit.tool_names:
        return  # not offered: nothing an agent could call
    tool = toolkit.get_tool(spec.tool_name)
    call = {"name": tool.name, "args": dict(spec.example), "id": "c1", "type": "tool_call"}
    for message in (tool.invoke(call), await tool.ainvoke(call)):
        assert isinstance(message, ToolMessage)
        assert message.status == "error"  # the service answered 500: the LLM reads why
        assert "the service failed" in str(message.content)


def test_tasks_only_providers_speak_are_not_offered_with_an_endpoint_url() -> None:
    endpoint = "https://endpoint.example/e"
    every = {s.task: endpoint for s in REGISTRY.values()}
    names = HuggingFaceToolkit(api_key="hf_x", models=every).tool_names
    # hf-inference's wire speaks speech and image edits for a named model (an endpoint too)
    assert {"image_to_image", "text_to_speech"} <= set(names)
    for task in ("text-to-video", "image-to-video"):
        assert task.replace("-", "_") not in names
        with pytest.raises(ConfigurationError, match="hf-inference does not serve"):
            HuggingFaceToolkit(api_key="hf_x", tasks=[task], models={task: endpoint})


def test_every_task_has_one_family_and_hosts_offer_families() -> None:
    listed = [task for tasks in FAMILIES.values() for task in tasks]
    assert sorted(listed) == sorted(REGISTRY) and len(listed) == len(set(listed))
    settings = Settings.create(api_key="hf_x", **EVERY_TOOL)
    vision = offered_tasks(settings, families=["vision"])
    assert list(vision) == list(FAMILIES["vision"])
    both = offered_tasks(settings, tasks=["summarization"], families=["audio"])
    assert list(both) == ["summarization", *FAMILIES["audio"]]
    assert list(offered_tasks(settings, tasks=["summarization"], families=[])) == ["summarization"]
    toolkit = HuggingFaceToolkit(api_key="hf_x", families=["generation"], **EVERY_TOOL)
    assert {family_of(t.metadata["hf_task"]) for t in toolkit.get_tools()} == {"generation"}
    with pytest.raises(ConfigurationError, match="unknown tool families"):
        offered_tasks(settings, families=["sound"])


def test_a_host_lists_and_runs_tools_by_name_with_json_safe_results(service: list[int]) -> None:
    toolset = Toolset(api_key="hf_x", tasks=["text-classification"])
    (tool,) = toolset.tools
    assert (tool.name, tool.family) == ("text_classification", "text")
    assert tool.json_schema()["required"] == ["text"]
    with pytest.raises(ToolFailure) as bad:
        toolset.run("text_classification", {"txt": "hi"})
    assert bad.value.kind == "fix_arguments" and "text" in bad.value.text
    service[0] = 401
    with pytest.raises(ToolFailure) as auth:
        toolset.run("text_classification", {"text": "hi"})
    assert auth.value.kind == "developer" and isinstance(auth.value.error, AuthenticationError)
    service[0] = 404
    with pytest.raises(ToolFailure) as gone:
        toolset.run("text_classification", {"text": "hi"})
    assert gone.value.kind == "unavailable" and "Do not retry" in gone.value.text


def test_the_tools_share_one_pair_of_clients_made_once_and_closed_with_the_toolset() -> None:
    toolset = Toolset(api_key="hf_x", families=["text"])
    start = threading.Barrier(8)

    def first_use(_: int) -> tuple[object, object]:
        start.wait()  # every thread asks at once: still one pair (one connection pool)
        return toolset.client, toolset.async_client

    with ThreadPoolExecutor(8) as pool:
        pairs = set(pool.map(first_use, range(8)))
    assert len(pairs) == 1
    ((client, aclient),) = pairs
    assert all(t.client is client and t.aclient is aclient for t in toolset.tools)
    toolset.close()
    assert toolset.client.http.is_closed
    # Closed before any call: the pair made afterwards is closed as it would have been.
    unused = Toolset(api_key="hf_x", tasks=["summarization"])
    unused.close()
    assert unused.client.http.is_closed and len(unused.async_client._pools) == 0


def test_error_text_is_bounded_by_max_content_chars(service: list[int]) -> None:
    toolset = Toolset(api_key="hf_x", tasks=["text-classification"], max_content_chars=200)
    with pytest.raises(ToolFailure) as failed:
        toolset.run("text_classification", {"text": "hi", "y" * 5000: 1})
    assert len(failed.value.text) <= 200 and failed.value.text.endswith("[message cut]")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_failure_no_class_foresaw_is_unavailable_never_a_raw_exception(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    # e.g. a socket layer that raises RuntimeError (a sandbox's blocked socket): the agent's
    # turn goes on with one line, the developer gets the traceback in the log.
    import hf_tools.flow

    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("socket layer broke")

    monkeypatch.setattr(hf_tools.flow, "http_request", broken)
    tool = HuggingFaceToolkit(api_key="hf_x").get_tool("text_classification")
    call = {"name": tool.name, "args": {"text": "hi"}, "id": "1", "type": "tool_call"}
    reply = tool.invoke(call) if mode == "sync" else await tool.ainvoke(call)
    assert isinstance(reply, ToolMessage) and reply.status == "error"
    assert "failed unexpectedly (RuntimeError)" in str(reply.content)
    assert "socket layer broke" not in str(reply.content)  # no unforeseen text to the LLM
    assert "socket layer broke" in caplog.text
