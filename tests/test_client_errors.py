"""What the LLM or the developer sees for each recorded error, replayed through a tool."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from langchain_core.messages import ToolMessage

import hf_tools.http.send
from hf_tools import (
    APIError,
    AuthenticationError,
    HFClient,
    HuggingFaceToolkit,
    InputError,
    InvalidInputError,
    MediaError,
    ModelLoadingError,
    ModelNotFoundError,
    PaymentRequiredError,
    RateLimitError,
    ServerError,
)
from hf_tools.errors import error_from_response
from hf_tools.http import HFRequest, RawResponse
from hf_tools.testing import is_recording

# These answers (401, 404, 429, 503...) cannot be produced on demand by the live API.
pytestmark = pytest.mark.skipif(is_recording(), reason="hand-built error scenarios")

CALL = {"name": "text_classification", "id": "c1", "type": "tool_call"}


def _call(**args: Any) -> dict[str, Any]:
    return {**CALL, "args": {"text": "I like you", **args}}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_401_raises_to_the_developer(toolkit: HuggingFaceToolkit, cassette: Any, mode: str):
    tool = toolkit.get_tool("text_classification")
    with cassette("client/401"), pytest.raises(AuthenticationError) as info:
        if mode == "sync":
            tool.invoke(_call())
        else:
            await tool.ainvoke(_call())
    assert info.value.status_code == 401
    assert str(info.value) == (
        "HTTP 401: Invalid username or password. "
        "[text-classification, distilbert/distilbert-base-uncased-finetuned-sst-2-english]"
    )


def test_404_names_the_model(token: str, cassette: Any) -> None:
    toolkit = HuggingFaceToolkit(
        api_key=token, models={"text-classification": "this-model-does-not-exist-123"}
    )
    # The model is gone: the LLM is told the tool is unavailable (the turn goes on).
    with cassette("client/404"):
        msg = toolkit.get_tool("text_classification").invoke(_call())
    assert msg.status == "error"
    assert "Model this-model-does-not-exist-123 does not exist" in str(msg.content)
    assert "text_classification tool is unavailable right now" in str(msg.content)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_400_error_list_goes_back_to_the_llm(
    toolkit: HuggingFaceToolkit, cassette: Any, sent: list[HFRequest], mode: str
) -> None:
    tool = toolkit.get_tool("text_classification")
    with cassette("client/400-error-list"):
        msg = (
            tool.invoke(_call(top_k=500))
            if mode == "sync"
            else await tool.ainvoke(_call(top_k=500))
        )
    assert isinstance(msg, ToolMessage)
    assert msg.status == "error"
    assert msg.content == (
        "HTTP 400: Error in `parameters.top_k`: ensure this value is less than or equal to 2; "
        "Error in `inputs`: field required "
        "[text-classification, distilbert/distilbert-base-uncased-finetuned-sst-2-english]. "
        "Change the arguments (shorter text, valid values) and call the tool again."
    )
    assert len(sent) == 1  # a 400 is never retried


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_503_loading_waits_then_succeeds(
    toolkit: HuggingFaceToolkit,
    cassette: Any,
    sleeps: list[float],
    sent: list[HFRequest],
    mode: str,
) -> None:
    tool = toolkit.get_tool("text_classification")
    with cassette("client/503-loading-then-200"):
        msg = tool.invoke(_call()) if mode == "sync" else await tool.ainvoke(_call())
    assert msg.status == "success"
    assert msg.content == "POSITIVE 0.9999, NEGATIVE 0.0001"
    assert sleeps == [20.0]  # the server's estimated_time, under the 30 s cap
    assert "x-wait-for-model" not in sent[0].headers
    assert sent[1].headers["x-wait-for-model"] == "true"


def test_503_that_never_ends_is_bounded(
    toolkit: HuggingFaceToolkit, cassette: Any, sleeps: list[float]
):
    with cassette("client/503-loading-forever"):
        msg = toolkit.get_tool("text_classification").invoke(_call())
    assert msg.status == "error"
    assert "is currently loading" in msg.content
    assert "try again in a minute" in msg.content
    assert sum(sleeps) <= toolkit.client.settings.retry.max_total_wait
    assert len(sleeps) == toolkit.client.settings.retry.max_retries == 3


def test_503_loading_error_carries_estimated_time(token: str, cassette: Any) -> None:
    client = HFClient(api_key=token, max_retries=0)
    with (
        cassette("client/503-loading-forever", all_played=False) as cas,
        pytest.raises(ModelLoadingError) as info,
    ):
        client.run("text-classification", text="I like you")
    assert info.value.estimated_time == 20.0
    assert cas.play_count == 1  # max_retries=0: one attempt only


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_429_honours_retry_after(
    toolkit: HuggingFaceToolkit, cassette: Any, sleeps: list[float], mode: str
) -> None:
    tool = toolkit.get_tool("text_classification")
    with cassette("client/429-then-200"):
        msg = tool.invoke(_call()) if mode == "sync" else await tool.ainvoke(_call())
    assert msg.status == "success"
    assert sleeps == [2.0]


def test_429_without_retry_after_backs_off_with_jitter(
    toolkit: HuggingFaceToolkit, cassette: Any, sleeps: list[float]
) -> None:
    with cassette("client/429-no-retry-after-then-200"):
        msg = toolkit.get_tool("text_classification").invoke(_call())
    assert msg.status == "success"
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


def test_500_plain_text_is_not_retried(
    toolkit: HuggingFaceToolkit, cassette: Any, sent: list[HFRequest]
) -> None:
    with cassette("client/500-plain-text"):
        msg = toolkit.get_tool("text_classification").invoke(_call())
    assert msg.status == "error"
    assert msg.content.startswith("HTTP 500: Internal Server Error [text-classification")
    assert len(sent) == 1
    client = toolkit.client
    with cassette("client/500-plain-text"), pytest.raises(ServerError):
        client.run("text-classification", text="I like you")


def test_custom_endpoint_gets_the_post_as_is(
    token: str, cassette: Any, sent: list[HFRequest]
) -> None:
    url = "https://my-sentiment.us-east-1.aws.endpoints.huggingface.cloud"
    toolkit = HuggingFaceToolkit(api_key=token, base_url=url, is_custom_endpoint=True)
    with cassette("custom/success"):
        msg = toolkit.get_tool("text_classification").invoke(_call())
    assert msg.content == "POSITIVE 0.9999, NEGATIVE 0.0001"
    assert sent[0].url == url


@pytest.mark.parametrize(
    ("status", "cls", "llm_fixable"),
    [
        (400, InvalidInputError, True),
        (413, InvalidInputError, True),
        (422, InvalidInputError, True),
        (401, AuthenticationError, False),
        (403, AuthenticationError, False),
        (402, PaymentRequiredError, False),
        (404, ModelNotFoundError, False),
        (405, ModelNotFoundError, False),  # no such route: a wrong URL, not wrong arguments
        (410, ModelNotFoundError, False),
        (429, RateLimitError, True),
        (408, APIError, False),
        (409, APIError, False),
        (415, APIError, False),
        (418, APIError, False),
        (451, APIError, False),
    ],
)
def test_only_400_413_422_blame_the_arguments(
    status: int, cls: type[APIError], llm_fixable: bool
) -> None:
    error = error_from_response(status, httpx2.Headers(), b'{"error":"no"}')
    assert type(error) is cls
    assert error.llm_fixable is llm_fixable and error.status_code == status


def test_a_405_through_a_tool_goes_to_the_developer(
    toolkit: HuggingFaceToolkit, monkeypatch: pytest.MonkeyPatch
) -> None:
    def _405(_: object, request: HFRequest) -> RawResponse:
        return RawResponse(405, httpx2.Headers(), b"Method Not Allowed")

    monkeypatch.setattr(hf_tools.http.send, "_exchange_sync", _405)
    with pytest.raises(ModelNotFoundError, match="HTTP 405: Method Not Allowed"):
        toolkit.get_tool("text_classification").invoke(_call())


def test_the_llm_reads_the_problem_and_the_hint_as_two_sentences() -> None:
    refused = MediaError("the path /etc/passwd is outside the folders this tool may read")
    assert refused.for_llm() == (
        "the path /etc/passwd is outside the folders this tool may read. Pass a different input:"
        " a public URL, base64, or a local path inside the allowed folders (if any)."
    )
    assert InputError("text is empty.").for_llm() == (
        "text is empty. Fix the arguments and call the tool again."
    )
    assert InputError("is it empty?").for_llm() == (
        "is it empty? Fix the arguments and call the tool again."
    )
    assert AuthenticationError("no access").for_llm() == "no access"  # no hint, nothing added
