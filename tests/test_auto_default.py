""" "auto" by default, as InferenceClient: one Hub lookup per model, hf-inference when the Hub
cannot be reached, and replays that seed the lookup from the cassettes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest

from hf_tools import AsyncHFClient, HFClient, HFConnectionError
from hf_tools.routing import DEFAULT_HUB_URL, MAPPINGS, mapping_url
from hf_tools.testing import DUMMY_TOKEN, seed_mappings

SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
HF_SST2 = f"https://router.huggingface.co/hf-inference/models/{SST2}"
LABELS = [{"label": "POSITIVE", "score": 0.99}]


def _run(client: HFClient | AsyncHFClient, task: str, **args: Any) -> Any:
    if isinstance(client, HFClient):
        return client.run(task, **args)
    return asyncio.run(client.run(task, **args))


def _client(mode: str, handler: Any, **kw: Any) -> HFClient | AsyncHFClient:
    cls = HFClient if mode == "sync" else AsyncHFClient
    return cls(api_key=DUMMY_TOKEN, transport=httpx2.MockTransport(handler), max_retries=0, **kw)


@pytest.fixture
def unseeded() -> None:
    """No recorded mapping in the cache (the suite seeds them): the test makes the lookup."""
    MAPPINGS.clear()


def _hub_down(seen: list[str]) -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        if request.url.host == "huggingface.co":
            raise httpx2.ConnectError("[Errno 101] Network is unreachable", request=request)
        return httpx2.Response(200, json=LABELS)

    return handler


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.usefixtures("unseeded")
def test_auto_calls_hf_inference_when_the_hub_cannot_be_reached(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    out = _run(_client(mode, _hub_down(seen)), "text-classification", text="I like you")
    assert out.labels[0].label == "POSITIVE"
    assert seen == [mapping_url(DEFAULT_HUB_URL, SST2), HF_SST2]
    assert "calling hf-inference" in caplog.text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_without_the_hub_a_model_the_catalog_does_not_place_on_hf_inference_fails(
    mode: str,
) -> None:
    seen: list[str] = []
    client = _client(mode, _hub_down(seen), models={"text-classification": "org/unknown"})
    with pytest.raises(HFConnectionError) as info:
        _run(client, "text-classification", text="I like you")
    assert info.value.host == "huggingface.co"
    assert len(seen) == 1  # the lookup only: no guess at where the model is served


def test_hf_inference_named_makes_no_hub_lookup() -> None:
    seen: list[str] = []
    client = _client("sync", _hub_down(seen), provider="hf-inference")
    _run(client, "text-classification", text="I like you")
    assert seen == [HF_SST2]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.usefixtures("unseeded")
def test_one_hub_lookup_per_model_per_process(mode: str) -> None:
    seen: list[str] = []
    mapping = {
        "hf-inference": {"providerId": SST2, "status": "live", "task": "text-classification"}
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        if request.url.host == "huggingface.co":
            return httpx2.Response(200, json={"inferenceProviderMapping": mapping})
        return httpx2.Response(200, json=LABELS)

    for _ in range(3):  # each a new client, as each tool call of a host may be
        _run(_client(mode, handler), "text-classification", text="I like you")
    assert seen == [mapping_url(DEFAULT_HUB_URL, SST2), HF_SST2, HF_SST2, HF_SST2]


def test_replays_seed_the_recorded_mappings(cassette: Any, token: str) -> None:
    client = HFClient(api_key=token)
    with cassette("text-classification/success"):
        assert MAPPINGS.peek(mapping_url(DEFAULT_HUB_URL, SST2)) is not None
        client.run("text-classification", text="I like you", top_k=None)
    assert seed_mappings(["org/not-recorded"]) == []
    assert SST2 in seed_mappings()
