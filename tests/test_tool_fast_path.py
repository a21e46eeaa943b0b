"""HFTool's short path: without any listener, the same results as LangChain's full tool run.

LangChain's run machinery (callback manager, run events, config context, a task per async
call) cost a third of ``ainvoke``'s CPU with 64 calls in flight. HFTool skips it when
LangChain would give the run no callback handler; these tests hold both paths to the same
outputs, and every listener LangChain knows to seeing every run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any
from uuid import UUID

import httpx2
import langsmith
import pytest
from langchain_core.callbacks import BaseCallbackHandler, CallbackManager
from langchain_core.globals import set_debug
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tracers.context import collect_runs
from langsmith import utils as ls_utils

from hf_tools import AsyncHFClient, HFClient, HFTool, get_spec, make_tool
from hf_tools.config import RetryPolicy
from hf_tools.langchain.tools import SHORT_PATH

from .conftest import ROOT

URL = "http://127.0.0.1:9/predict"  # never reached: an in-process transport answers

# What the in-process server answers, by the text sent.
ANSWERS: dict[str, tuple[int, object]] = {
    "ok": (200, [[{"label": "POSITIVE", "score": 0.9}, {"label": "NEGATIVE", "score": 0.1}]]),
    "too-long": (400, {"error": "Input is too long for this model"}),
    "gone": (404, {"error": "Model not found"}),
    "no-auth": (401, {"error": "Invalid credentials"}),
    "odd-shape": (200, {"unexpected": True}),
}


def _answer(request: httpx2.Request) -> httpx2.Response:
    text = json.loads(request.content)["inputs"]
    status, body = ANSWERS.get(text, ANSWERS["ok"])
    return httpx2.Response(status, json=body)


@pytest.fixture
def tool() -> Iterator[HFTool]:
    transport = httpx2.MockTransport(_answer)
    common: dict[str, Any] = {
        "api_key": "hf_test",
        "base_url": URL,
        "is_custom_endpoint": True,
        "transport": transport,
        "retry": RetryPolicy(max_retries=0),
    }
    client, aclient = HFClient(**common), AsyncHFClient(**common)
    yield make_tool(get_spec("text-classification"), client, aclient)
    client.close()


def _call(args: Any, call_id: str | None = "call-1") -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": "text_classification", "args": args}


ARGS: list[Any] = [
    {"text": "ok"},
    {"text": "ok", "top_k": 1, "function_to_apply": "softmax"},
    {"text": "too-long"},
    {"text": "gone"},
    {"text": "no-auth"},
    {"text": "odd-shape"},
    {},
    {"text": 5},
    {"text": "ok", "top_k": "many"},
    {"text": "ok", "function_to_apply": "cube"},
    {"text": "ok", "not_an_argument": 1},
]
# Plain arguments, ToolCalls (with and without an id) and bare strings.
INPUTS: list[Any] = [
    *ARGS,
    *(_call(a) for a in ARGS),
    *(_call(a, None) for a in ARGS[:4]),
    "ok",
    "too-long",
    "no-auth",
    "",
]


def _outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    """What a caller sees: the value (a ToolMessage as its fields), or the error raised."""
    try:
        value = run()
    except Exception as exc:
        return "raised", (type(exc), str(exc))
    if isinstance(value, ToolMessage):
        return "message", value.model_dump()
    return "value", value


def _invoke(tool: HFTool, tool_input: Any, mode: str) -> tuple[str, Any]:
    if mode == "sync":
        return _outcome(lambda: tool.invoke(tool_input))
    return _outcome(lambda: asyncio.run(tool.ainvoke(tool_input)))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_short_path_gives_what_the_full_run_gives(
    tool: HFTool, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_runs: list[int] = []
    for name in ("run", "arun"):
        real = getattr(HFTool, name)

        def counting(self: HFTool, *a: Any, real: Any = real, **kw: Any) -> Any:
            full_runs.append(1)
            return real(self, *a, **kw)

        monkeypatch.setattr(HFTool, name, counting)
    short = [_invoke(tool, tool_input, mode) for tool_input in INPUTS]
    assert full_runs == []  # nobody listens: LangChain's run machinery was skipped

    with monkeypatch.context() as m:
        m.setattr(HFTool, "_observed", lambda self, callbacks: True)
        full = [_invoke(tool, tool_input, mode) for tool_input in INPUTS]
    assert len(full_runs) == len(INPUTS)

    for tool_input, got, expected in zip(INPUTS, short, full, strict=True):
        assert got == expected, tool_input
    kinds = {kind for kind, _ in short}
    assert kinds == {"raised", "message", "value"}  # the matrix covers every outcome
    statuses = {o["status"] for kind, o in short if kind == "message"}
    assert statuses == {"success", "error"}


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_tool_start(self, serialized: Any, input_str: str, **kw: Any) -> None:
        self.events.append("start")

    def on_tool_end(self, output: Any, **kw: Any) -> None:
        self.events.append("end")

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kw: Any) -> None:
        self.events.append("error")


# A success, an error the LLM reads (a ToolMessage: the run ends), a raised error.
RUNS: list[tuple[Any, list[str]]] = [
    (_call({"text": "ok"}), ["start", "end"]),
    (_call({"text": "too-long"}), ["start", "end"]),
    ({"text": "too-long"}, ["start", "error"]),
    ({"text": "no-auth"}, ["start", "error"]),
]


def _run_all(
    tool: HFTool, mode: str, config: dict[str, Any] | None = None, via: str = "tool"
) -> None:
    for tool_input, _ in RUNS:
        if via == "parent":  # the tool inside another runnable, which was given the config
            runnable: Any = RunnableLambda(lambda x: tool.invoke(x), afunc=tool.ainvoke)
        else:
            runnable = tool
        if mode == "sync":
            _outcome(lambda: runnable.invoke(tool_input, config))  # noqa: B023
        else:
            _outcome(lambda: asyncio.run(runnable.ainvoke(tool_input, config)))  # noqa: B023


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("where", ["config", "tool", "parent"])
def test_a_callback_handler_sees_every_run(tool: HFTool, mode: str, where: str) -> None:
    recorder = _Recorder()
    config: dict[str, Any] | None = {"callbacks": [recorder]}
    if where == "tool":
        tool.callbacks, config = [recorder], None
    _run_all(tool, mode, config, via="parent" if where == "parent" else "tool")
    assert recorder.events == [event for _, events in RUNS for event in events]


async def test_astream_events_sees_every_run(tool: HFTool) -> None:
    for tool_input, events in RUNS:
        names: list[str] = []
        try:
            async for event in tool.astream_events(tool_input, version="v2"):
                names.append(event["event"])
        except Exception:  # a raised error ends the stream, after its on_tool_error
            names.append("raised")
        expected = [f"on_tool_{event}" for event in events]
        assert [n for n in names if n.startswith("on_tool")] == expected, tool_input
        assert names[-1] == ("raised" if events[1] == "error" else "on_tool_end")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_tracer_set_in_the_context_sees_every_run(tool: HFTool, mode: str) -> None:
    with collect_runs() as collected:
        _run_all(tool, mode)
    runs = collected.traced_runs
    assert [run.name for run in runs] == ["text_classification"] * len(RUNS)
    assert [run.error is not None for run in runs] == [e[1] == "error" for _, e in RUNS]


@contextmanager
def _env(monkeypatch: pytest.MonkeyPatch, name: str) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setenv(name, "true")
        m.setenv("LANGSMITH_API_KEY", "lsv2_test")  # so that LangChain can make its tracer
        ls_utils.get_env_var.cache_clear()  # type: ignore[attr-defined]  # langsmith caches it
        try:
            yield
        finally:
            ls_utils.get_env_var.cache_clear()  # type: ignore[attr-defined]


@contextmanager
def _debug() -> Iterator[None]:
    set_debug(True)
    try:
        yield
    finally:
        set_debug(False)


def _scenarios(
    monkeypatch: pytest.MonkeyPatch, tool: HFTool
) -> dict[str, tuple[Any, Callable[[], AbstractContextManager[Any]]]]:
    """Name -> (the config's callbacks, a context to run in)."""
    handler = _Recorder()

    @contextmanager
    def on_tool(**fields: Any) -> Iterator[None]:
        old = {name: getattr(tool, name) for name in fields}
        for name, value in fields.items():
            setattr(tool, name, value)
        try:
            yield
        finally:
            for name, value in old.items():
                setattr(tool, name, value)

    return {
        "nothing": (None, nullcontext),
        "empty list": ([], nullcontext),
        "empty manager": (CallbackManager(handlers=[]), nullcontext),
        "handler list": ([handler], nullcontext),
        "manager": (CallbackManager(handlers=[handler]), nullcontext),
        "tool callbacks": (None, lambda: on_tool(callbacks=[handler])),
        "tool tags only": (None, lambda: on_tool(tags=["x"])),
        "verbose": (None, lambda: on_tool(verbose=True)),
        "debug": (None, _debug),
        "LANGSMITH_TRACING": (None, lambda: _env(monkeypatch, "LANGSMITH_TRACING")),
        "LANGCHAIN_TRACING_V2": (None, lambda: _env(monkeypatch, "LANGCHAIN_TRACING_V2")),
        "LANGCHAIN_TRACING": (None, lambda: _env(monkeypatch, "LANGCHAIN_TRACING")),
        "tracing context": (None, lambda: langsmith.tracing_context(enabled=True)),
        "tracing context off": (None, lambda: langsmith.tracing_context(enabled=False)),
        "run collector": (None, collect_runs),
    }


def test_observed_is_exactly_when_langchain_would_set_up_a_handler(
    tool: HFTool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The short path reads LangChain's conditions without building the manager: this holds
    # the two equal, so a langchain-core upgrade that adds a condition fails here.
    verdicts = {}
    for name, (callbacks, context) in _scenarios(monkeypatch, tool).items():
        with context():
            manager = CallbackManager.configure(
                callbacks, tool.callbacks, tool.verbose, None, tool.tags, None, tool.metadata
            )
            verdicts[name] = tool._observed(callbacks)
            assert verdicts[name] == bool(manager.handlers), name
    assert not verdicts["nothing"] and verdicts["LANGSMITH_TRACING"] and verdicts["debug"]


# A later langchain-core may drop or change the private helpers the short path calls: then
# hf_tools still imports and every call takes LangChain's full run, with the same results.
_WITHOUT_A_HELPER = r"""
import asyncio, json, sys
import httpx2
from langchain_core.tools import base

if sys.argv[1] == "missing":  # renamed: BaseTool's own invoke/ainvoke use the new name
    prep = base._prep_run_args
    del base._prep_run_args

    def invoke(self, input, config=None, **kwargs):
        tool_input, run = prep(input, config, **kwargs)
        return self.run(tool_input, **run)

    async def ainvoke(self, input, config=None, **kwargs):
        tool_input, run = prep(input, config, **kwargs)
        return await self.arun(tool_input, **run)

    base.BaseTool.invoke, base.BaseTool.ainvoke = invoke, ainvoke
else:  # the same helper, with another parameter list
    real = base._handle_tool_error
    base._handle_tool_error = lambda e, *, flag, extra=None: real(e, flag=flag)

from hf_tools import AsyncHFClient, HFClient, HFTool, get_spec, make_tool
from hf_tools.config import RetryPolicy
from tests.test_tool_fast_path import URL, _answer, _call

full_runs = []
for name in ("run", "arun"):
    real_run = getattr(HFTool, name)
    def counting(self, *a, real_run=real_run, **kw):
        full_runs.append(1)
        return real_run(self, *a, **kw)
    setattr(HFTool, name, counting)
common = {"api_key": "hf_test", "base_url": URL, "is_custom_endpoint": True,
          "transport": httpx2.MockTransport(_answer), "retry": RetryPolicy(max_retries=0)}
tool = make_tool(get_spec("text-classification"), HFClient(**common), AsyncHFClient(**common))
ok = tool.invoke(_call({"text": "ok"}))
failed = asyncio.run(tool.ainvoke(_call({"text": "gone"})))
print(json.dumps([ok.status, ok.content, failed.status, len(full_runs)]))
"""


@pytest.mark.parametrize("helper", ["missing", "differs"])
def test_without_langchain_core_s_helpers_every_call_takes_the_full_run(helper: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_A_HELPER, helper],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    status, content, failed, full_runs = json.loads(done.stdout)
    assert (status, failed, full_runs) == ("success", "error", 2)
    assert "POSITIVE" in content


def test_langchain_core_has_the_helpers_the_short_path_calls() -> None:
    assert SHORT_PATH  # else the short path is off: a speed loss that should be seen
