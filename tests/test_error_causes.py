"""Errors say who must act and why: no token before any request, where a connection failed."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

import hf_tools
import hf_tools.http.send
from hf_tools import AsyncHFClient, HFClient
from hf_tools.errors import ConfigurationError, HFConnectionError, HFToolsError


def _no_request(request: httpx2.Request) -> httpx2.Response:
    raise AssertionError(f"no request may be sent, got {request.url}")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_provider_call_without_a_token_fails_before_any_request(mode: str) -> None:
    kw = {"provider": "fal-ai"}
    with pytest.raises(ConfigurationError, match="no Hugging Face token for router"):
        if mode == "sync":
            HFClient(transport=httpx2.MockTransport(_no_request), **kw).run(
                "text-to-image", prompt="a cat"
            )
        else:
            client = AsyncHFClient(transport=httpx2.MockTransport(_no_request), **kw)
            asyncio.run(client.run("text-to-image", prompt="a cat"))


def _refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)


def test_a_connection_error_names_the_host_and_cause_for_the_developer() -> None:
    client = HFClient(api_key="hf_x", transport=httpx2.MockTransport(_refused), max_retries=0)
    with pytest.raises(HFConnectionError) as info:
        client.run("text-classification", text="hi")
    error = info.value
    assert error.host == "router.huggingface.co"
    assert error.cause == "ConnectError: [Errno 111] Connection refused"
    assert "router.huggingface.co" in str(error) and "Connection refused" in str(error)
    # The LLM reads a short, actionable line, not resolver details.
    assert "Errno" not in error.for_llm() and "try again later" in error.for_llm()


def test_the_provider_errors_are_in_the_tree_and_exported() -> None:
    for name in ("NoProviderError", "JobFailedError", "JobCancelledError", "ResultDownloadError"):
        cls = getattr(hf_tools, name)
        assert issubclass(cls, HFToolsError) and cls.__module__ == "hf_tools.errors"
        assert name in (hf_tools.errors.__doc__ or "")


def test_cli_call_to_a_provider_without_a_token_is_a_usage_error_with_no_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.cli import main

    def no_request(client: object, request: object) -> None:
        raise AssertionError("no request may be sent")

    monkeypatch.setattr(hf_tools.http.send, "_exchange_sync", no_request)
    args = ["call", "text_to_image", "--args", '{"prompt": "a cat"}', "--provider", "fal-ai"]
    assert main(args) == 2
    assert "no Hugging Face token for router.huggingface.co" in capsys.readouterr().err


def test_cli_list_offers_one_family(capsys: pytest.CaptureFixture[str]) -> None:
    from hf_tools.cli import main

    assert main(["list", "--families", "audio"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:1]] == ["automatic_speech_recognition"]
    assert lines[1].startswith("1 tools;")
