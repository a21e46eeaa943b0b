"""The agent loop: what the model sees, artifacts kept apart, errors fed back, limits, events."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import StructuredTool, ToolException, tool

from hf_tools import HuggingFaceToolkit
from hf_tools.errors import ConfigurationError
from hf_tools.langchain.agent import Agent, FinalAnswer, ModelToken, ToolEnd, ToolStart
from hf_tools.tasks.image_segmentation import ImageSegmentationOutput
from hf_tools.testing import CHAT_MATCH_ON, ScriptedChatModel, tool_call

IMAGE = "tests/fixtures/image.png"


def _calls(*calls: Any, text: str = "") -> AIMessage:
    return AIMessage(text, tool_calls=list(calls))


def _tool_messages(messages: list[BaseMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


def test_tool_result_reaches_the_model_and_the_artifact_stays_out(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    model = ScriptedChatModel(
        replies=[_calls(tool_call("image_segmentation", image=IMAGE)), "A person with an umbrella."]
    )
    agent = Agent(model, toolkit.get_tools())
    with cassette("image-segmentation/success"):
        result = agent.invoke("What is in tests/fixtures/image.png?")

    assert result.answer == "A person with an umbrella."
    assert result.stopped_reason == "answer" and result.steps == 2
    # The model's second call saw the tool's text, and nothing binary.
    (seen,) = _tool_messages(model.seen[1])
    assert seen.status == "success" and seen.name == "image_segmentation"
    assert "covers" in str(seen.content)
    assert seen.artifact is None
    assert all(isinstance(m.content, str) for m in model.seen[1])
    assert "\\x89PNG" not in str(model.seen[1]) and "\x89PNG" not in str(model.seen[1])
    # The masks come back with the answer instead.
    ((name, artifact),) = result.artifacts
    assert name == "image_segmentation" and isinstance(artifact, ImageSegmentationOutput)
    assert artifact.segments[0].mask.startswith(b"\x89PNG")
    # Every tool the toolkit has was bound to the model.
    assert [t["function"]["name"] for t in model.tools] == toolkit.tool_names


def test_several_tool_calls_of_one_turn_all_answered_in_call_order(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    model = ScriptedChatModel(
        replies=[
            _calls(
                tool_call("image_classification", "a", image=IMAGE),
                tool_call("image_to_text", "b", image=IMAGE),
            ),
            "done",
        ]
    )
    agent = Agent(model, toolkit.get_tools())
    with cassette("image-classification/success", "image-to-text/success"):
        result = agent.invoke("Describe it")
    answered = _tool_messages(model.seen[1])
    assert [m.tool_call_id for m in answered] == ["a", "b"]
    assert "a woman in a hat" in str(answered[1].content)
    assert [name for name, _ in result.artifacts] == ["image_classification", "image_to_text"]


def test_invalid_arguments_come_back_as_an_error_the_model_can_fix(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    model = ScriptedChatModel(
        replies=[
            _calls(tool_call("text_classification", "bad", text="")),
            _calls(tool_call("text_classification", "good", text="I like you")),
            "Positive.",
        ]
    )
    agent = Agent(model, toolkit.get_tools())
    with cassette("text-classification/success"):
        result = agent.invoke("Is 'I like you' positive?")
    (error,) = _tool_messages(model.seen[1])
    assert error.status == "error" and "text" in str(error.content)
    assert "Fix the arguments" in str(error.content)
    assert _tool_messages(model.seen[2])[-1].content == "POSITIVE 0.9999, NEGATIVE 0.0001"
    assert result.answer == "Positive." and result.steps == 3


def test_plain_langchain_tools_errors_are_fed_back_too() -> None:
    def _fail(x: int) -> str:
        raise ToolException("x must be even; try 2")

    failing = StructuredTool.from_function(_fail, name="even", description="Needs even x.")

    @tool
    def square(x: int) -> int:
        """Square a number."""
        return x * x

    model = ScriptedChatModel(
        replies=[
            _calls(tool_call("even", "1", x=1), tool_call("square", "2", x="not a number")),
            "gave up",
        ]
    )
    result = Agent(model, [failing, square]).invoke("go")
    even, sq = _tool_messages(model.seen[1])
    assert (even.status, even.content) == ("error", "x must be even; try 2")
    assert sq.status == "error" and "Invalid arguments for square: x:" in str(sq.content)
    assert result.artifacts == []


def test_unknown_tool_names_list_the_available_ones(toolkit: HuggingFaceToolkit) -> None:
    tools = [toolkit.get_tool("summarization"), toolkit.get_tool("translation")]
    model = ScriptedChatModel(replies=[_calls(tool_call("translate", text="hi")), "sorry"])
    Agent(model, tools).invoke("translate hi")
    (msg,) = _tool_messages(model.seen[1])
    assert msg.status == "error"
    assert msg.content == "Unknown tool 'translate'. Available tools: summarization, translation."


def test_step_limit_stops_with_a_clear_result() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    model = ScriptedChatModel(replies=[_calls(tool_call("ping", f"c{i}")) for i in range(3)])
    result = Agent(model, [ping], max_steps=3).invoke("loop forever")
    assert result.stopped_reason == "max_steps" and result.steps == 3
    assert result.answer.startswith(
        "Stopped at the step limit (max_steps=3) without a final answer"
    )
    assert len(model.seen) == 3  # no fourth model call
    # The conversation stays valid to continue: every tool call has its answer.
    calls = [c["id"] for m in result.messages if isinstance(m, AIMessage) for c in m.tool_calls]
    assert calls == [m.tool_call_id for m in _tool_messages(result.messages)]


def test_configuration_errors_raise_to_the_developer() -> None:
    def _broken() -> str:
        raise ConfigurationError("no api key")

    broken = StructuredTool.from_function(_broken, name="broken", description="Broken.")
    model = ScriptedChatModel(replies=[_calls(tool_call("broken"))])
    with pytest.raises(ConfigurationError, match="no api key"):
        Agent(model, [broken]).invoke("go")


def test_system_prompt_is_added_once_and_conversations_continue() -> None:
    model = ScriptedChatModel(replies=["first", "second"])
    agent = Agent(model, [], system_prompt="Be brief.")
    first = agent.invoke("hi")
    second = agent.invoke([*first.messages, HumanMessage("again")])
    assert [type(m) for m in model.seen[1]] == [
        SystemMessage,
        HumanMessage,
        AIMessage,
        HumanMessage,
    ]
    assert model.seen[1][0].content == "Be brief."
    assert second.answer == "second" and len(second.messages) == 5


def test_empty_input_and_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        Agent(ScriptedChatModel(), [], max_steps=0)
    with pytest.raises(ValueError, match="at least one message"):
        Agent(ScriptedChatModel(), []).invoke([])


def _sleeper(name: str, seconds: float, log: list[str]) -> StructuredTool:
    async def _run(text: str) -> str:
        log.append(f"start {name}")
        await asyncio.sleep(seconds)
        log.append(f"end {name}")
        return f"{name}: {text}"

    def _sync(text: str) -> str:
        time.sleep(seconds)
        return f"{name}: {text}"

    return StructuredTool.from_function(
        func=_sync, coroutine=_run, name=name, description=f"Sleeps {seconds}s."
    )


async def test_async_tool_calls_of_one_turn_run_concurrently() -> None:
    log: list[str] = []
    tools = [_sleeper("slow", 0.4, log), _sleeper("fast", 0.2, log)]
    model = ScriptedChatModel(
        replies=[
            _calls(tool_call("slow", "s", text="a"), tool_call("fast", "f", text="b")),
            "ok",
        ]
    )
    start = time.perf_counter()
    result = await Agent(model, tools).ainvoke("go")
    elapsed = time.perf_counter() - start
    # The log proves the overlap; the clock bound (one after another takes >= 0.6 s) is kept
    # loose for loaded CI machines.
    assert log == ["start slow", "start fast", "end fast", "end slow"]
    assert elapsed < 0.6, f"took {elapsed:.2f}s: the calls ran one after another"
    # The model still sees the answers in the order it asked.
    assert [m.content for m in _tool_messages(result.messages)] == ["slow: a", "fast: b"]


def test_sync_tool_calls_run_one_after_another() -> None:
    tools = [_sleeper("slow", 0.15, []), _sleeper("fast", 0.15, [])]
    model = ScriptedChatModel(
        replies=[_calls(tool_call("slow", "s", text="a"), tool_call("fast", "f", text="b")), "ok"]
    )
    start = time.perf_counter()
    Agent(model, tools).invoke("go")
    assert time.perf_counter() - start >= 0.3


def test_stream_events_in_order(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    model = ScriptedChatModel(
        replies=[
            _calls(tool_call("image_to_text", "c1", image=IMAGE), text="Let me look."),
            "It shows a woman in a hat.",
        ]
    )
    agent = Agent(model, toolkit.get_tools())
    with cassette("image-to-text/success"):
        events = list(agent.stream_events("Describe tests/fixtures/image.png"))
    kinds = [e.kind for e in events]
    assert kinds == ["token", "token", "token", "tool_start", "tool_end", *["token"] * 7, "final"]
    assert "".join(e.text for e in events if isinstance(e, ModelToken) and e.step == 2) == (
        "It shows a woman in a hat."
    )
    start, end, final = events[3], events[4], events[-1]
    assert isinstance(start, ToolStart) and start.args == {"image": IMAGE}
    assert (
        isinstance(end, ToolEnd) and end.content == "a woman in a hat and dress posing for a photo"
    )
    assert end.has_artifact and end.to_dict()["status"] == "success"
    assert isinstance(final, FinalAnswer) and final.result.answer == "It shows a woman in a hat."
    assert final.to_dict()["artifacts"] == [{"tool": "image_to_text", "type": "ImageToTextOutput"}]


async def test_astream_events_report_tools_as_they_finish() -> None:
    log: list[str] = []
    tools = [_sleeper("slow", 0.2, log), _sleeper("fast", 0.05, log)]
    model = ScriptedChatModel(
        replies=[_calls(tool_call("slow", "s", text="a"), tool_call("fast", "f", text="b")), "ok"]
    )
    events = [e async for e in Agent(model, tools).astream_events("go")]
    assert [(e.kind, getattr(e, "name", None)) for e in events] == [
        ("tool_start", "slow"),
        ("tool_start", "fast"),
        ("tool_end", "fast"),
        ("tool_end", "slow"),
        ("token", None),
        ("final", None),
    ]


async def test_ainvoke_matches_invoke_on_cassettes(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    model = ScriptedChatModel(
        replies=[
            _calls(tool_call("automatic_speech_recognition", audio="tests/fixtures/audio.flac")),
            "ok",
        ]
    )
    with cassette("automatic-speech-recognition/success"):
        result = await Agent(model, toolkit.get_tools()).ainvoke("transcribe")
    (msg,) = _tool_messages(result.messages)
    assert "a man said to the universe sir i exist" in str(msg.content)
    assert result.artifacts[0][0] == "automatic_speech_recognition"


def test_models_that_cannot_stream_still_give_tool_events() -> None:
    from langchain_core.language_models import BaseChatModel

    class Whole(ScriptedChatModel):
        _stream = BaseChatModel._stream  # type: ignore[assignment]  # no streaming

    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    model = Whole(replies=[_calls(tool_call("ping"), text="let me ping"), "pong it is"])
    events = list(Agent(model, [ping]).stream_events("ping"))
    assert [e.kind for e in events] == ["token", "tool_start", "tool_end", "token", "final"]
    assert isinstance(events[0], ModelToken) and events[0].text == "let me ping"
    assert isinstance(events[-1], FinalAnswer) and events[-1].result.answer == "pong it is"


def test_tokens_false_calls_the_model_whole() -> None:
    model = ScriptedChatModel(replies=["one two three"])
    events = list(Agent(model, []).stream_events("hi", tokens=False))
    assert [e.kind for e in events] == ["final"]


def test_chat_body_matcher_checks_the_conversation_not_tool_wording() -> None:
    import json as _json
    from types import SimpleNamespace

    from hf_tools.testing import chat_body_matcher

    def _req(content: str, description: str) -> Any:
        tools = [{"type": "function", "function": {"name": "t", "description": description}}]
        body = {"model": "m", "messages": [{"role": "user", "content": content}], "tools": tools}
        return SimpleNamespace(body=_json.dumps(body).encode())

    chat_body_matcher(_req("hi", "old words"), _req("hi", "new words"))
    with pytest.raises(AssertionError):
        chat_body_matcher(_req("hi", "same"), _req("bye", "same"))
    with pytest.raises(AssertionError):
        chat_body_matcher(SimpleNamespace(body=b"\x00a"), SimpleNamespace(body=b"\x00b"))
    chat_body_matcher(SimpleNamespace(body=b"\x00a"), SimpleNamespace(body=b"\x00a"))


async def test_hf_chat_model_drives_the_agent_async_over_the_demo_recording(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hf_tools.demo import DEMO_CASSETTES, DEMO_REQUEST, demo_agent
    from hf_tools.testing import use_cassette

    from .conftest import CASSETTES, ROOT

    monkeypatch.chdir(ROOT)
    agent = demo_agent(ROOT)
    with use_cassette(*DEMO_CASSETTES, library_dir=CASSETTES, match_on=CHAT_MATCH_ON):
        result = await agent.ainvoke(DEMO_REQUEST)
    assert result.stopped_reason == "answer" and result.steps == 3
    assert result.answer.startswith("A man is speaking")
    assert [name for name, _ in result.artifacts] == [
        "automatic_speech_recognition",
        "audio_classification",
        "image_to_text",
        "object_detection",
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_calls_with_unparseable_arguments_get_an_error_reply(mode: str) -> None:
    from langchain_core.messages import InvalidToolCall

    @tool
    def ping(n: int) -> str:
        """Ping."""
        return "pong"

    bad = InvalidToolCall(
        type="invalid_tool_call", name="ping", args='{"n": 1', id="bad1", error="Unterminated"
    )
    model = ScriptedChatModel(
        replies=[AIMessage("", invalid_tool_calls=[bad]), _calls(tool_call("ping", n=1)), "ok"]
    )
    agent = Agent(model, [ping])
    result = agent.invoke("ping") if mode == "sync" else await agent.ainvoke("ping")
    # The model saw its broken call answered, so the conversation stays valid for chat APIs.
    ai, error = model.seen[1][1:]
    assert isinstance(ai, AIMessage) and [c["id"] for c in ai.tool_calls] == ["bad1"]
    assert isinstance(error, ToolMessage) and error.status == "error"
    assert error.tool_call_id == "bad1"
    assert str(error.content).startswith(
        'The arguments of your ping call are not a valid JSON object (Unterminated): {"n": 1.'
    )
    assert result.answer == "ok"


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_valid_call_sharing_its_id_with_a_broken_one_still_runs(mode: str) -> None:
    from langchain_core.messages import InvalidToolCall

    bad = InvalidToolCall(type="invalid_tool_call", name="echo", args="{bad", id="0", error="x")
    reply = AIMessage("", tool_calls=[tool_call("echo", "0", text="a")], invalid_tool_calls=[bad])
    agent = Agent(ScriptedChatModel(replies=[reply, "done"]), [echo])
    result = agent.invoke("go") if mode == "sync" else await agent.ainvoke("go")
    ai, ran, refused = result.messages[1:4]
    assert isinstance(ai, AIMessage) and isinstance(ran, ToolMessage)
    assert isinstance(refused, ToolMessage)
    assert (ran.status, ran.content) == ("success", "a")
    assert refused.status == "error" and "not a valid JSON object" in str(refused.content)
    # Every call has its own id, and each tool message answers one of them.
    assert [c["id"] for c in ai.tool_calls] == [ran.tool_call_id, refused.tool_call_id]
    assert ran.tool_call_id != refused.tool_call_id


def test_a_call_cut_by_the_token_limit_is_reported_as_such() -> None:
    from langchain_core.messages import InvalidToolCall

    bad = InvalidToolCall(
        type="invalid_tool_call", name="echo", args='{"text": "a lo', id="c", error="bad JSON"
    )
    reply = AIMessage("", invalid_tool_calls=[bad], response_metadata={"finish_reason": "length"})
    for tokens in (False, True):  # streamed, the cut JSON parses leniently as a valid call
        agent = Agent(ScriptedChatModel(replies=[reply, "ok"]), [echo])
        result = list(agent.stream_events("go", tokens=tokens))[-1].result  # type: ignore[union-attr]
        (error,) = _tool_messages(result.messages)
        assert error.status == "error" and "cut off by the token limit" in str(error.content)
        assert "max_tokens" in str(error.content) and "not a valid" not in str(error.content)


def test_calls_without_an_id_get_one_their_results_answer() -> None:
    from hf_tools.langchain.chat import message_to_dict

    call = tool_call("echo", text="a")
    call["id"] = None
    result = Agent(ScriptedChatModel(replies=[_calls(call), "done"]), [echo]).invoke("go")
    ai, answer = result.messages[1:3]
    assert isinstance(ai, AIMessage) and isinstance(answer, ToolMessage)
    assert ai.tool_calls[0]["id"] == answer.tool_call_id == "call_1_0"
    assert message_to_dict(ai)["tool_calls"][0]["id"] == "call_1_0"  # no random id on the wire


def test_default_tool_call_ids_are_unique_within_a_reply() -> None:
    model = ScriptedChatModel(
        replies=[_calls(tool_call("echo", text="a"), tool_call("echo", text="b")), "done"]
    )
    result = Agent(model, [echo]).invoke("go")
    answered = _tool_messages(result.messages)
    assert [(m.tool_call_id, m.content) for m in answered] == [
        ("call_echo", "a"),  # the first keeps the id recorded conversations carry
        ("call_echo_2", "b"),
    ]


def _script() -> list[Any]:
    from langchain_core.messages import InvalidToolCall

    usage = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    # "[1]": not an object, whole or streamed (streamed JSON is parsed leniently).
    bad = InvalidToolCall(type="invalid_tool_call", name="echo", args="[1]", id="b", error=None)
    return [
        AIMessage("", invalid_tool_calls=[bad], usage_metadata=usage),  # type: ignore[arg-type]
        _calls(tool_call("echo", text="x"), text="Let me echo."),
        "",  # an empty reply: an empty answer, not a crash
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_script_gives_the_same_result_streamed_and_not(mode: str) -> None:
    async def run(stream: bool) -> Any:
        agent = Agent(ScriptedChatModel(replies=_script()), [echo])
        if mode == "sync":
            events = list(agent.stream_events("go", tokens=stream))
        else:
            events = [e async for e in agent.astream_events("go", tokens=stream)]
        assert isinstance(events[-1], FinalAnswer)
        return events[-1].result

    whole, streamed = await run(False), await run(True)
    assert (streamed.answer, streamed.steps) == (whole.answer, whole.steps) == ("", 3)

    def shape(messages: list[BaseMessage]) -> list[Any]:
        return [
            (
                type(m).__name__,
                m.text,
                [(c["name"], c["args"], c["id"]) for c in getattr(m, "tool_calls", [])],
                getattr(m, "invalid_tool_calls", []),
                getattr(m, "usage_metadata", None),
                getattr(m, "tool_call_id", None),
            )
            for m in messages
        ]

    assert shape(streamed.messages) == shape(whole.messages)


def test_scripted_streams_list_content_as_text() -> None:
    model = ScriptedChatModel(replies=[AIMessage([{"type": "text", "text": "hello world"}])])
    assert "".join(str(c.content) for c in model.stream("x")) == "hello world"
