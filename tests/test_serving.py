"""What an agent is offered and what it reads when a tool's model is not served (issue #12).

* a 404/410 (or no provider for the model) becomes an error ToolMessage saying the tool is
  unavailable, naming model and provider; the turn goes on, other tools' results are kept;
* ``tasks=None`` offers only the tasks the settings can serve, decided without a request;
* the per-provider default models live in one table (``catalog.DEFAULT_MODELS``).
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.prebuilt import create_react_agent
from langgraph.warnings import LangGraphDeprecatedSinceV10

from hf_tools import HFChatModel, HuggingFaceToolkit
from hf_tools.errors import AuthenticationError, ConfigurationError, ModelNotFoundError
from hf_tools.http import HFRequest
from hf_tools.langchain.agent import Agent
from hf_tools.routing import MAPPINGS
from hf_tools.testing import DUMMY_TOKEN, ScriptedChatModel, tool_call, use_cassette

from .conftest import CASSETTES

RANKER = "cross-encoder/ms-marco-MiniLM-L-6-v2"
RANKING_ARGS = {
    "query": "How many people live in Berlin?",
    "documents": [
        "Berlin is well known for its museums.",
        "Berlin had a population of 3,520,031 registered inhabitants.",
    ],
}
FINAL = "Hello world is 'Hallo Welt'; I could not rank the documents."


def _interactions(name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = yaml.safe_load((CASSETTES / name).read_text())["interactions"]
    return found


def _answered(name: str, status: int, body: str) -> dict[str, Any]:
    """The request of library cassette ``name``, answered with ``status`` and ``body``."""
    (interaction,) = _interactions(name)
    interaction["response"] = {
        "body": {"string": body},
        "headers": {"content-type": ["application/json"]},
        "status": {"code": status, "message": ""},
    }
    return interaction


def _hub(model: str, mapping: list[dict[str, str]]) -> dict[str, Any]:
    uri = f"https://huggingface.co/api/models/{model}?expand[]=inferenceProviderMapping"
    return {
        "request": {"body": "", "headers": {}, "method": "GET", "uri": uri},
        "response": {
            "body": {"string": json.dumps({"id": model, "inferenceProviderMapping": mapping})},
            "headers": {"content-type": ["application/json"]},
            "status": {"code": 200, "message": ""},
        },
    }


@pytest.fixture(autouse=True)
def _fresh_mappings() -> Iterator[None]:
    MAPPINGS.clear()
    yield
    MAPPINGS.clear()


@pytest.fixture
def replay(tmp_path: Path) -> Callable[..., AbstractContextManager[Any]]:
    """Replay interactions (dicts, or library cassette names) as one cassette."""

    @contextmanager
    def _use(*parts: str | dict[str, Any]) -> Iterator[Any]:
        merged: list[dict[str, Any]] = []
        for part in parts:
            merged += _interactions(part) if isinstance(part, str) else [part]
        path = tmp_path / f"replay-{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump({"interactions": merged, "version": 1}))
        with use_cassette(path.name, library_dir=tmp_path, record_mode="none") as cassette:
            yield cassette

    return _use


def _toolkit(token: str, **kw: Any) -> HuggingFaceToolkit:
    # ranking has no hf-inference model by default: naming one makes the tool offered.
    return HuggingFaceToolkit(
        api_key=token, tasks=["ranking", "translation"], models={"ranking": RANKER}, **kw
    )


def _script() -> ScriptedChatModel:
    return ScriptedChatModel(
        replies=[
            AIMessage(
                "",
                tool_calls=[
                    tool_call("ranking", "r", **RANKING_ARGS),
                    tool_call("translation", "t", text="Hello world"),
                ],
            ),
            FINAL,
        ]
    )


def _gone(status: int = 404) -> dict[str, Any]:
    return _answered("ranking/success.yaml", status, f'{{"error":"Model {RANKER} does not exist"}}')


def _check_turn(messages: list[BaseMessage], model: ScriptedChatModel, provider: str) -> None:
    ranking, translation = [m for m in messages if isinstance(m, ToolMessage)]
    assert ranking.status == "error" and ranking.name == "ranking"
    text = str(ranking.content)
    assert text.startswith("The ranking tool is unavailable right now: ")
    assert f"{RANKER} is not served by {provider}" in text
    assert "use another tool, or answer without it" in text
    # The other tool of the same turn kept its result, and the model answered after both.
    assert translation.status == "success" and translation.name == "translation"
    assert str(translation.content) == "Hallo Welt"
    assert model.seen[1][-2:] == [ranking, translation]
    assert messages[-1].content == FINAL


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("status", [404, 410])
def test_our_agent_goes_on_when_a_tool_model_is_gone(
    token: str, replay: Callable[..., Any], mode: str, status: int
) -> None:
    model = _script()
    agent = Agent(model, _toolkit(token).get_tools())
    with replay(_gone(status), "translation/success.yaml"):
        if mode == "sync":
            result = agent.invoke("Rank these, and translate Hello world")
        else:
            result = asyncio.run(agent.ainvoke("Rank these, and translate Hello world"))
    assert result.answer == FINAL and result.stopped_reason == "answer"
    _check_turn(result.messages, model, "hf-inference")
    assert [name for name, _ in result.artifacts] == ["translation"]


def _react_agent(model: ScriptedChatModel, toolkit: HuggingFaceToolkit) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        return create_react_agent(model, toolkit.get_tools())


def _create_agent(model: ScriptedChatModel, toolkit: HuggingFaceToolkit) -> Any:
    return create_agent(model, toolkit.get_tools())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "build", [_create_agent, _react_agent], ids=["create_agent", "create_react_agent"]
)
def test_langgraph_agents_go_on_when_a_tool_model_is_gone(
    token: str, replay: Callable[..., Any], build: Any, mode: str
) -> None:
    model = _script()
    graph = build(model, _toolkit(token))
    request = {"messages": [("user", "Rank these, and translate Hello world")]}
    with replay(_gone(), "translation/success.yaml"):
        state = graph.invoke(request) if mode == "sync" else asyncio.run(graph.ainvoke(request))
    _check_turn(state["messages"], model, "hf-inference")


def test_a_named_provider_is_named(token: str, replay: Callable[..., Any]) -> None:
    """A model the Hub maps but whose provider answers 404: the message names that provider."""
    toolkit = HuggingFaceToolkit(
        api_key=token, provider="together", tasks=["text_generation"], models={}
    )
    tool = toolkit.get_tool("text_generation")
    model_id = tool.metadata["hf_model"] if tool.metadata else ""
    mapping = [
        {
            "provider": "together",
            "providerId": "mistralai/Mixtral-8x7B-v0.1",
            "status": "live",
            "task": "text-generation",
        }
    ]
    gone = _answered(
        "providers/together/text-generation/mixtral.yaml", 404, '{"error":"model not found"}'
    )
    with replay(_hub(model_id, mapping), gone):
        message = tool.invoke(
            {
                "type": "tool_call",
                "id": "c",
                "name": "text_generation",
                "args": {"prompt": "Paris is", "max_new_tokens": 10},
            }
        )
    assert message.status == "error"
    assert f"{model_id} is not served by together (HTTP 404: model not found)" in message.content


def test_auto_without_a_provider_for_the_model_is_unavailable_not_a_crash(
    token: str, replay: Callable[..., Any]
) -> None:
    toolkit = HuggingFaceToolkit(
        api_key=token, provider="auto", tasks=["text_to_image"], models={"text_to_image": "a/b"}
    )
    mapping = [
        {"provider": "together", "providerId": "x", "status": "live", "task": "conversational"}
    ]
    with replay(_hub("a/b", mapping)):
        message = toolkit.get_tool("text_to_image").invoke(
            {"type": "tool_call", "id": "c", "name": "text_to_image", "args": {"prompt": "a cat"}}
        )
    assert message.status == "error"
    assert message.content == (
        "The text_to_image tool is unavailable right now: no provider serves a/b for"
        " text-to-image; it is mapped for conversational. Do not retry it; use another tool,"
        " or answer without it."
    )


def test_plain_invoke_raises_a_tool_error_carrying_the_404(
    token: str, replay: Callable[..., Any]
) -> None:
    from hf_tools.langchain.tools import HFToolError

    with replay(_gone()), pytest.raises(HFToolError, match="unavailable right now") as caught:
        _toolkit(token).get_tool("ranking").invoke(RANKING_ARGS)
    assert isinstance(caught.value.error, ModelNotFoundError)


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthenticationError), (405, ModelNotFoundError)]
)
def test_authentication_and_wrong_routes_still_raise_to_the_developer(
    token: str, replay: Callable[..., Any], status: int, error: type[Exception]
) -> None:
    model = _script()
    agent = Agent(model, _toolkit(token).get_tools())
    with replay(_gone(status)), pytest.raises(error):
        agent.invoke("Rank these")


# ----------------------------------------------------------------- HFChatModel providers


def test_chat_provider_and_bill_to_reach_the_router_as_recorded(
    cassette: Any, sent: list[HFRequest]
) -> None:
    from tests._chat_data import DEEP

    llm = HFChatModel(
        model="meta-llama/Meta-Llama-3-8B-Instruct",
        provider="together",
        bill_to="my-org",
        api_key=DUMMY_TOKEN,
    )
    # The recorded request is the router's `model:provider` form, as huggingface_hub sent it.
    with cassette("chat-completion/no-stream-together"):
        reply = llm.invoke(DEEP)
    assert str(reply.content).startswith("Deep learning is a subfield of machine learning")
    (request,) = sent
    assert request.url == "https://router.huggingface.co/v1/chat/completions"
    assert request.headers["x-hf-bill-to"] == "my-org"
    assert request.headers["authorization"] == f"Bearer {DUMMY_TOKEN}"
    assert json.loads(request.content)["model"] == "meta-llama/Meta-Llama-3-8B-Instruct:together"


def test_chat_router_url_moves_the_route_and_the_bill_to_header() -> None:
    llm = HFChatModel(
        model="org/m", router_url="https://router.example/", bill_to="org", api_key=DUMMY_TOKEN
    )
    request = llm.build_request([HumanMessage("hi")])
    assert request.url == "https://router.example/v1/chat/completions"
    assert request.headers["x-hf-bill-to"] == "org"
    assert json.loads(request.content)["model"] == "org/m"  # no provider: the router picks


def test_chat_auto_and_an_explicit_suffix_send_the_model_as_given() -> None:
    auto = HFChatModel(model="org/m", provider="auto", api_key=DUMMY_TOKEN)
    same = HFChatModel(model="org/m:groq", provider="groq", api_key=DUMMY_TOKEN)
    assert auto.wire_model == "org/m" and same.wire_model == "org/m:groq"


def test_chat_bill_to_never_goes_to_a_dedicated_endpoint() -> None:
    llm = HFChatModel(endpoint_url="https://tgi.example", bill_to="org", api_key=DUMMY_TOKEN)
    request = llm.build_request([HumanMessage("hi")])
    assert request.url == "https://tgi.example/v1/chat/completions"
    assert "x-hf-bill-to" not in request.headers


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"endpoint_url": "https://tgi.example", "provider": "together"}, "endpoint_url"),
        ({"model": "org/m:groq", "provider": "together"}, "names provider 'groq'"),
        ({"model": "org/m", "provider": "nope"}, "provider must be one of"),
    ],
)
def test_chat_provider_that_cannot_apply_is_refused(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        HFChatModel(api_key=DUMMY_TOKEN, **kw)
