"""What an agent is offered and what it reads when a tool's model is not served (issue #12).

* a 404/410 (or no provider for the model) becomes an error ToolMessage saying the tool is
  unavailable, naming model and provider; the turn goes on, other tools' results are kept;
* ``tasks=None`` offers only the tasks the settings can serve, decided without a request;
* the per-provider default models live in one table (``catalog.DEFAULT_MODELS``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from hf_tools import HFChatModel, HuggingFaceToolkit
from hf_tools.errors import AuthenticationError, ConfigurationError, ModelNotFoundError
from hf_tools.http import HFRequest
from hf_tools.langchain.agent import Agent
from hf_tools.routing import MAPPINGS
from hf_tools.testing import DUMMY_TOKEN, ScriptedChatModel, tool_call, use_cassette

from .conftest import CASSETTES
from .test_langgraph import _create_agent, _react_agent

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


# "auto", the default with a token, found the ranker on hf-inference (its recorded mapping).
AUTO_HF = "the provider auto-selected for it (hf-inference)"


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
    _check_turn(result.messages, model, AUTO_HF)
    assert [name for name, _ in result.artifacts] == ["translation"]


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
    _check_turn(state["messages"], model, AUTO_HF)


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
                "args": {"prompt": "Paris is", "max_new_tokens": 10, "temperature": 0},
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


# -------------------------------------------------- what tasks=None offers, and the table


def _tools(**kw: Any) -> dict[str, str]:
    toolkit = HuggingFaceToolkit(api_key="hf_x", **kw)
    return {t.name: (t.metadata or {})["hf_model"] for t in toolkit.get_tools()}


def test_a_named_provider_offers_its_own_default_models(sent: list[HFRequest]) -> None:
    assert _tools(provider="fal-ai") == {
        "text_to_image": "black-forest-labs/FLUX.1-schnell",
        "image_to_image": "black-forest-labs/FLUX.1-Kontext-dev",
        "text_to_video": "genmo/mochi-1-preview",
        "image_to_video": "Wan-AI/Wan2.2-I2V-A14B",
        "automatic_speech_recognition": "openai/whisper-large-v3",  # not hf-inference's wav2vec2
        "text_to_speech": "hexgrad/Kokoro-82M",
    }
    together = _tools(provider="together")
    assert together["text_generation"] == "mistralai/Mixtral-8x7B-v0.1"
    assert together["conversational"] == "meta-llama/Llama-3.3-70B-Instruct"
    assert together["text_to_image"] == "stabilityai/stable-diffusion-xl-base-1.0"
    assert "feature_extraction" not in together  # an adapter, but no model known to be served
    assert sent == []  # decided without a request


def test_auto_within_a_provider_order_offers_what_those_providers_serve() -> None:
    assert _tools(provider="auto", provider_order=["fal-ai"]) == _tools(provider="fal-ai")
    assert "text_generation" in _tools(provider="auto")
    assert "ranking" not in _tools(provider="auto")


def test_named_models_and_a_base_url_make_any_task_offered() -> None:
    assert _tools(models={"ranking": RANKER})["ranking"] == RANKER
    own_server = _tools(base_url="http://127.0.0.1:8080")
    assert "ranking" in own_server and "audio_classification" in own_server
    # Given explicitly, the user's models win over a provider's defaults.
    fal = _tools(provider="fal-ai", models={"automatic_speech_recognition": "me/asr"})
    assert fal["automatic_speech_recognition"] == "me/asr"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"tasks": ["ranking"]},
            "ranking cannot be served with these settings: no provider serves it with a default"
            " model (hf-inference dropped it in 2025); name a model or endpoint URL in"
            " models['ranking'], e.g. your Inference Endpoint [ranking]",
        ),
        (
            {"tasks": ["text_generation"], "provider": "hf-inference"},
            "text-generation cannot be served with these settings: hf-inference has no default"
            " model for it; providers with one: together (mistralai/Mixtral-8x7B-v0.1). Choose"
            " one of them, or name a model or endpoint URL in models['text-generation']"
            " [text-generation]",
        ),
        (
            {"tasks": ["image_segmentation"], "provider": "fal-ai"},
            "image-segmentation cannot be served with these settings: fal-ai has no default"
            " model for it; providers with one: hf-inference (facebook/detr-resnet-50-panoptic)."
            " Choose one of them, or name a model or endpoint URL in"
            " models['image-segmentation'] [image-segmentation]",
        ),
    ],
)
def test_asking_for_a_task_nothing_serves_names_what_would(
    kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        HuggingFaceToolkit(api_key="hf_x", **kw)
    assert str(caught.value) == message


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fal_asr_sends_fal_s_default_model_from_the_recorded_flow(
    token: str, replay: Callable[..., Any], sent: list[HFRequest], mode: str
) -> None:
    from .conftest import FIXTURES

    toolkit = HuggingFaceToolkit(api_key=token, provider="fal-ai", allowed_roots=[FIXTURES])
    mapping = [
        {
            "provider": "fal-ai",
            "providerId": "fal-ai/whisper",
            "status": "live",
            "task": "automatic-speech-recognition",
        }
    ]
    tool = toolkit.get_tool("automatic_speech_recognition")
    call = {
        "type": "tool_call",
        "id": "c",
        "name": tool.name,
        "args": {"audio": str(FIXTURES / "audio.flac")},
    }
    fal = "providers/fal-ai/automatic-speech-recognition/whisper.yaml"
    with replay(_hub("openai/whisper-large-v3", mapping), fal):
        message = tool.invoke(call) if mode == "sync" else asyncio.run(tool.ainvoke(call))
    assert message.status == "success", message.content
    recorded = json.loads(_interactions(fal)[0]["response"]["body"]["string"])
    assert message.artifact.text == recorded["text"]
    assert sent[0].url.startswith("https://huggingface.co/api/models/openai/whisper-large-v3?")
    assert sent[1].url == "https://router.huggingface.co/fal-ai/fal-ai/whisper"


def test_the_default_model_table_is_consistent_with_the_registries() -> None:
    from hf_tools.catalog import DEFAULT_MODELS, HF_INFERENCE_TASKS
    from hf_tools.providers import speaks
    from hf_tools.routing import hub_task
    from hf_tools.tasks import REGISTRY

    tasks = [s.task for s in REGISTRY.values() if not s.needs_endpoint]
    assert sorted(DEFAULT_MODELS) == sorted(tasks)
    for task, entries in DEFAULT_MODELS.items():
        for provider, model in entries:
            assert speaks(provider, task), (provider, task)
            assert "/" in model, model
        if entries:  # the task's own default is the table's first choice
            assert REGISTRY[task].default_model == entries[0][1], task
        on_hf = any(p == "hf-inference" for p, _ in entries)
        assert on_hf == (hub_task(task) in HF_INFERENCE_TASKS), task
    # Of the 8 tools hf-inference stopped serving, text generation moved to a provider; the
    # others are served by nobody today, so docs/providers.md says so and they are not offered.
    unserved = {t for t, e in DEFAULT_MODELS.items() if not e}
    assert unserved == {
        "text2text-generation",
        "sentence-similarity",
        "ranking",
        "image-to-text",
        "visual-question-answering",
        "zero-shot-image-classification",
        "audio-classification",
        # InferenceClient's tasks hf-inference no longer serves and no provider took up.
        "document-question-answering",
        "tabular-classification",
        "tabular-regression",
        "audio-to-audio",
        "image-text-to-text",  # any chat provider serves a VLM; none recorded yet
    }


# ------------------------------------------------------------------------------ the CLI


def test_cli_list_shows_what_the_flags_serve(capsys: pytest.CaptureFixture[str]) -> None:
    from hf_tools.cli import main

    assert main(["list", "--provider", "fal-ai"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:6]] == [
        "automatic_speech_recognition",
        "text_to_image",
        "image_to_image",
        "text_to_video",
        "image_to_video",
        "text_to_speech",
    ]
    assert lines[6].startswith("6 tools; schemas ")
    assert lines[7].startswith("not served with these settings: text_classification, ")
    assert main(["list", "--provider", "nope"]) == 2
    assert capsys.readouterr().err.startswith("provider must be one of auto, hf-inference, ")


def test_cli_call_sends_bill_to_and_provider_order(
    token: str,
    replay: Callable[..., Any],
    sent: list[HFRequest],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from hf_tools.cli import main

    monkeypatch.setenv("HF_TOKEN", token)
    mapping = [
        {"provider": "replicate", "providerId": "x/y", "status": "live", "task": "text-to-image"},
        {
            "provider": "together",
            "providerId": "stabilityai/stable-diffusion-xl-base-1.0",
            "status": "live",
            "task": "text-to-image",
        },
    ]
    sdxl = "providers/together/text-to-image/sdxl.yaml"
    prompt = _interactions(sdxl)[0]["request"]["body"]
    args = json.dumps({"prompt": json.loads(prompt)["prompt"]})
    model = "stabilityai/stable-diffusion-xl-base-1.0"
    argv = ["call", "text_to_image", "--args", args, "--model", model, "--provider", "auto"]
    argv += ["--provider-order", "together", "--bill-to", "my-org", "--output-dir", str(tmp_path)]
    with replay(_hub(model, mapping), sdxl):
        assert main(argv) == 0
    hub, together = sent
    assert together.url == "https://router.huggingface.co/together/v1/images/generations"
    assert together.headers["x-hf-bill-to"] == "my-org"
    assert "x-hf-bill-to" not in hub.headers


def test_cli_agent_bills_the_model_and_the_tools_to_the_org(
    monkeypatch: pytest.MonkeyPatch, sent: list[HFRequest], capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.cli import main
    from hf_tools.testing import CHAT_MATCH_ON

    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    argv = ["agent", "Is 'I like you' positive?", "--tasks", "text-classification"]
    cassettes = ("agent/stream.yaml", "text-classification/success.yaml")
    with use_cassette(*cassettes, library_dir=CASSETTES, match_on=CHAT_MATCH_ON):
        assert main([*argv, "--bill-to", "my-org"]) == 0
    assert capsys.readouterr().out.endswith("Positive: POSITIVE 0.9999.\n")
    chat = "https://router.huggingface.co/v1/chat/completions"
    tool = "https://router.huggingface.co/hf-inference/models/distilbert/"
    assert [r.url for r in sent] == [
        chat,
        tool + "distilbert-base-uncased-finetuned-sst-2-english",
        chat,
    ]
    assert all(r.headers["x-hf-bill-to"] == "my-org" for r in sent)


def _text_generation_call(tool: Any, replay: Callable[..., Any], *parts: Any) -> ToolMessage:
    call = {
        "type": "tool_call",
        "id": "c",
        "name": "text_generation",
        "args": {"prompt": "Paris is", "max_new_tokens": 10, "temperature": 0},
    }
    with replay(*parts):
        message = tool.invoke(call)
    assert isinstance(message, ToolMessage) and message.status == "error"
    return message


def test_auto_names_the_provider_it_picked_and_a_model_the_hub_lacks(
    token: str, replay: Callable[..., Any]
) -> None:
    mixtral = "mistralai/Mixtral-8x7B-v0.1"
    tool = HuggingFaceToolkit(api_key=token, provider="auto").get_tool("text_generation")
    mapping = [
        {"provider": "together", "providerId": mixtral, "status": "live", "task": "text-generation"}
    ]
    gone = _answered(
        "providers/together/text-generation/mixtral.yaml", 404, '{"error":"model not found"}'
    )
    message = _text_generation_call(tool, replay, _hub(mixtral, mapping), gone)
    assert f"{mixtral} is not served by the provider auto-selected for it (together)" in str(
        message.content
    )
    MAPPINGS.clear()
    no_such = _hub(mixtral, [])
    no_such["response"]["status"]["code"] = 404
    no_such["response"]["body"]["string"] = '{"error":"Repository not found"}'
    message = _text_generation_call(tool, replay, no_such)
    assert str(message.content).startswith(
        f"The text_generation tool is unavailable right now: the Hub has no model {mixtral}"
        " (Repository not found)."
    )
