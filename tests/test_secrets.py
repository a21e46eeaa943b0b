"""The api key never leaks: logs, errors, reprs, tool content, CLI output, cassettes."""

from __future__ import annotations

import json
import logging
import re
import traceback
from typing import Any

import pytest
import yaml

from hf_tools import AsyncHFClient, HFClient, HuggingFaceToolkit, Settings
from hf_tools.cli import main
from hf_tools.http import HFRequest
from hf_tools.testing import DUMMY_TOKEN, SECRET_HEADERS

from .conftest import CASSETTES

SECRET = "hf_SECRETsecretSECRET123456"


def _everything(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + repr(exc)


def test_reprs_never_show_the_key() -> None:
    toolkit = HuggingFaceToolkit(api_key=SECRET)
    objects: list[Any] = [
        toolkit,
        toolkit.client,
        toolkit.async_client,
        HFClient(api_key=SECRET),
        AsyncHFClient(api_key=SECRET),
        Settings.create(api_key=SECRET),
        *toolkit.get_tools(),
    ]
    for obj in objects:
        assert SECRET not in repr(obj) and SECRET not in str(obj), type(obj)


@pytest.mark.parametrize(
    ("scenario", "args"),
    [
        ("text-classification/success", {}),
        ("client/401", {}),
        ("client/500-plain-text", {}),
        ("client/400-error-list", {"top_k": 500}),
    ],
)
def test_logs_errors_and_content_never_show_the_key(
    scenario: str, args: dict[str, Any], cassette: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tool = HuggingFaceToolkit(api_key=SECRET).get_tool("text_classification")
    call = {
        "name": tool.name,
        "args": {"text": "I like you", **args},
        "id": "1",
        "type": "tool_call",
    }
    text = ""
    with cassette(scenario):
        try:
            msg = tool.invoke(call)
            text = repr(msg) + str(msg.content)
        except Exception as exc:  # the developer-facing errors
            text = _everything(exc)
    assert text
    assert SECRET not in text
    assert SECRET not in caplog.text
    assert any(r.name.startswith("hf_tools") for r in caplog.records)


@pytest.mark.parametrize(
    ("scenario", "args", "shown"),
    [
        ("client/401", {}, "error: HTTP 401: Invalid username or password."),  # raised
        ("client/400-error-list", {"top_k": 500}, "HTTP 400: Error in `parameters.top_k`"),
    ],
)
def test_cli_output_never_shows_the_key(
    scenario: str,
    args: dict[str, Any],
    shown: str,
    cassette: Any,
    sent: list[HFRequest],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    argv = ["call", "text_classification", "--args", json.dumps({"text": "I like you", **args})]
    with cassette(scenario):
        assert main(argv) == 1
    out = capsys.readouterr()
    assert [r.headers["authorization"] for r in sent] == [f"Bearer {SECRET}"]  # it was sent
    assert shown in out.out + out.err  # the error did come back and was printed
    assert SECRET not in out.out + out.err


def test_chat_model_never_shows_the_key(
    cassette: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage

    from hf_tools import HFChatModel

    caplog.set_level(logging.DEBUG)
    llm = HFChatModel(model="meta-llama/Meta-Llama-3-70B-Instruct", api_key=SECRET)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    env_llm = HFChatModel(model="m")
    shown = [repr(llm), str(llm), repr(env_llm), str(llm.asdict()), str(llm._get_ls_params())]
    shown += [repr(llm.build_request([HumanMessage("hi")])), repr(llm.bind_tools([]))]
    messages = [
        SystemMessage("You are a helpful assistant."),
        HumanMessage("What is deep learning?"),
    ]
    with cassette("chat-completion/401"), pytest.raises(Exception) as info:
        llm.invoke(messages)
    shown.append(_everything(info.value))
    for text in shown:
        assert SECRET not in text
    assert SECRET not in caplog.text
    assert any(r.name.startswith("hf_tools") for r in caplog.records)


def test_cassettes_hold_no_secret() -> None:
    paths = sorted(CASSETTES.rglob("*.yaml"))
    assert len(paths) > 20  # the scan must not pass by finding nothing
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for token in (DUMMY_TOKEN, SECRET):
            assert token not in text, path
        assert not re.search(r"hf_[A-Za-z0-9]{20,}", text), path  # any real-looking token
        assert not re.search(r"(?i)bearer\s+hf_", text), path
        for item in yaml.safe_load(text)["interactions"]:
            for side in ("request", "response"):
                names = {name.lower() for name in item[side].get("headers", {})}
                assert not names & set(SECRET_HEADERS), (path, side, names)
