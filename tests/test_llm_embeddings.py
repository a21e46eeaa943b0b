"""HFLLM (BaseLLM) and HFEmbeddings (Embeddings): langchain-tests' suites and the checks
langchain-tests has no suite for (it has none for BaseLLM), all from cassettes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx2
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from hf_tools import HFLLM, HFEmbeddings, InvalidInputError
from hf_tools.http import HFRequest
from hf_tools.tasks.feature_extraction import FeatureExtractionOutput
from hf_tools.testing import DUMMY_TOKEN, use_cassette

from .conftest import CASSETTES

Cassette = Callable[..., AbstractContextManager[Any]]
EMBEDDER = "sentence-transformers/paraphrase-xlm-r-multilingual-v1"
LLAMA = "meta-llama/Llama-3.2-3B"
QUESTION = "Please answer the following question: complete one two and ____."


class _HFEmbeddingsParams:
    @property
    def embeddings_class(self) -> type[HFEmbeddings]:
        return HFEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": EMBEDDER, "api_key": DUMMY_TOKEN}


class TestHFEmbeddingsUnit(_HFEmbeddingsParams, EmbeddingsUnitTests):
    @property
    def init_from_env_params(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        return ({"HF_TOKEN": "hf_from_env"}, {"model": EMBEDDER}, {})


class TestHFEmbeddingsIntegration(_HFEmbeddingsParams, EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _replay(self) -> Iterator[None]:
        with use_cassette(
            "embeddings/hf-inference.yaml",
            "embeddings/hf-inference-one-by-one.yaml",
            library_dir=CASSETTES,
            all_played=False,
            allow_playback_repeats=True,
        ):
            yield


@pytest.mark.parametrize("batch_size", [1, 32])
def test_embed_documents_sends_batch_size_texts_per_request(
    batch_size: int, cassette: Cassette, sent: list[HFRequest]
) -> None:
    embeddings = HFEmbeddings(model=EMBEDDER, api_key=DUMMY_TOKEN, batch_size=batch_size)
    name = "hf-inference-one-by-one" if batch_size == 1 else "hf-inference"
    with cassette(f"embeddings/{name}", all_played=False):
        vectors = embeddings.embed_documents(["foo", "bar"])
    assert len(vectors) == 2 and len(vectors[0]) == 768
    batches = [json.loads(r.content)["inputs"] for r in sent]
    assert batches == ([["foo"], ["bar"]] if batch_size == 1 else [["foo", "bar"]])


def test_aembed_documents_sends_the_batches_and_keeps_their_order(
    cassette: Cassette, sent: list[HFRequest]
) -> None:
    embeddings = HFEmbeddings(model=EMBEDDER, api_key=DUMMY_TOKEN, batch_size=1)
    with cassette("embeddings/hf-inference-one-by-one", all_played=False):
        vectors = asyncio.run(embeddings.aembed_documents(["foo", "bar"]))
    assert len(vectors) == 2
    assert sorted(json.loads(r.content)["inputs"][0] for r in sent) == ["bar", "foo"]


# ------------------------------------------------ HFLLM: what a BaseLLM suite would check


def _llm(**kw: Any) -> HFLLM:
    return HFLLM(api_key=DUMMY_TOKEN, **kw)


def test_llm_invoke_ainvoke_batch_abatch_answer_text(cassette: Cassette) -> None:
    llm = _llm(model="google/flan-t5-xxl", max_new_tokens=1, temperature=0)
    with cassette("text-generation/success", allow_playback_repeats=True):
        assert isinstance(llm.invoke("test"), str)
        assert isinstance(asyncio.run(llm.ainvoke("test")), str)
        assert len(llm.batch(["test", "test"])) == 2
        assert len(asyncio.run(llm.abatch(["test", "test"]))) == 2
    assert llm._llm_type == "huggingface-text-generation"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_llm_streams_token_by_token(mode: str, cassette: Cassette) -> None:
    llm = _llm(model=LLAMA, max_new_tokens=50, seed=0)
    with cassette("text-generation-stream/tgi"):
        if mode == "sync":
            chunks = list(llm.stream(QUESTION))
        else:

            async def collect() -> list[str]:
                return [c async for c in llm.astream(QUESTION)]

            chunks = asyncio.run(collect())
    assert len(chunks) == 50 and all(isinstance(c, str) for c in chunks)
    assert "".join(chunks).startswith(" 1. 2. 3.")


def test_llm_reports_parameters_the_model_dropped(cassette: Cassette) -> None:
    llm = _llm(model="google/flan-t5-large", max_new_tokens=20, do_sample=False)
    llm_args: dict[str, Any] = {"return_full_text": True, "stop": ["\n"], "details": True}
    with cassette("text-generation/unused-model-kwargs"):
        result = llm.generate(["How are you today?"], **llm_args)
    generation = result.generations[0][0]
    assert generation.text == "I am at work"
    assert generation.generation_info == {
        "dropped_parameters": ["return_full_text", "stop", "details"]
    }


def test_llm_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    llm = HFLLM(model="m")
    assert llm.client.settings.api_key is not None
    assert "hf_from_env" not in repr(llm)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_embeddings_on_a_provider_that_serves_them(mode: str, cassette: Cassette) -> None:
    embeddings = HFEmbeddings(
        model="intfloat/e5-mistral-7b-instruct", provider="sambanova", api_key=DUMMY_TOKEN
    )
    text = "Today is a sunny day and I will get some ice cream."
    with cassette("embeddings/sambanova"):
        if mode == "sync":
            vector = embeddings.embed_query(text)
        else:
            vector = asyncio.run(embeddings.aembed_query(text))
    assert len(vector) == 4096 and all(isinstance(x, float) for x in vector)


def test_llm_stream_reports_each_token_to_callbacks_and_raises_typed_errors(
    cassette: Cassette,
) -> None:
    tokens: list[str] = []

    class Collect(BaseCallbackHandler):
        def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
            tokens.append(token)

    llm = _llm(model=LLAMA, max_new_tokens=50, seed=0)
    with cassette("text-generation-stream/tgi"):
        text = "".join(llm.stream(QUESTION, config={"callbacks": [Collect()]}))
    assert "".join(tokens) == text and len(tokens) == 50
    story = "Write a short story about a robot that becomes sentient and takes over the world."
    with cassette("text-generation-stream/tgi-error"), pytest.raises(InvalidInputError):
        list(_llm(model=LLAMA, max_new_tokens=10000).stream(story))


def test_llm_sends_stop_and_call_time_parameters() -> None:
    bodies: list[Any] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.content))
        return httpx2.Response(200, json=[{"generated_text": "ok"}])

    llm = _llm(base_url="https://example.test/tgi", temperature=0.5, max_new_tokens=5)
    llm.client.close()
    llm.client._http = httpx2.Client(transport=httpx2.MockTransport(answer))
    assert llm.invoke("hi", stop=["\n"], top_k=3) == "ok"
    llm.close()
    assert bodies[0]["parameters"] == {
        "max_new_tokens": 5,
        "temperature": 0.5,
        "top_k": 3,
        "stop": ["\n"],
    }


def test_aembed_documents_keeps_at_most_max_concurrency_batches_in_flight() -> None:
    in_flight, peak = 0, 0

    async def run() -> list[list[float]]:
        embeddings = HFEmbeddings(
            model=EMBEDDER, api_key=DUMMY_TOKEN, batch_size=1, max_concurrency=2
        )

        async def answer(texts: list[str]) -> FeatureExtractionOutput:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return FeatureExtractionOutput(vectors=[[float(len(texts[0]))]], pooled=True, shape=[1])

        async def fake_run(task: str, /, **args: Any) -> FeatureExtractionOutput:
            return await answer(args["texts"])

        embeddings.aclient.run = fake_run  # type: ignore[method-assign]
        return await embeddings.aembed_documents(["a", "bb", "ccc", "dddd", "eeeee"])

    vectors = asyncio.run(run())
    assert vectors == [[1.0], [2.0], [3.0], [4.0], [5.0]]  # in order
    assert peak == 2
