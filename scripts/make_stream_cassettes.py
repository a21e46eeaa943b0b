"""Write the text-generation stream, dropped-parameter and embeddings cassettes.

Bodies come from the reference recordings (``--recordings``, default
``../shared/reference/hf-recordings``); requests are built by hf_tools, so they match what it
sends today. Run from the checkout: ``python scripts/make_stream_cassettes.py``. Each cassette
and its source are listed in cassettes/INDEX.md.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from hf_tools.client import HFClient
from hf_tools.config import Settings
from hf_tools.http import HFRequest, json_body
from hf_tools.routing import mapping_url
from hf_tools.tasks import get_spec
from hf_tools.testing import DUMMY_TOKEN, Interaction, write_cassette

OUT = Path("cassettes")
SSE = {"content-type": "text/event-stream"}
HUB_JSON = {"content-type": "application/json; charset=utf-8"}
LLAMA = "meta-llama/Llama-3.2-3B"
MIXTRAL = "mistralai/Mixtral-8x7B-v0.1"
EMBEDDER = "sentence-transformers/paraphrase-xlm-r-multilingual-v1"
E5 = "intfloat/e5-mistral-7b-instruct"

client = HFClient(api_key=DUMMY_TOKEN)


def _request(task: str, args: dict[str, Any], model: str, *, stream: bool = False) -> HFRequest:
    spec = get_spec(task)
    request = client.prepare(spec, client.validate(spec, args), {}, model)
    if stream:  # as hf_tools.flow.stream_flow sends it
        request = replace(
            request, content=json_body({**json.loads(request.content), "stream": True})
        )
    return request


def _hub(model: str, provider: str, provider_id: str, task: str) -> Interaction:
    url = mapping_url(Settings.create(DUMMY_TOKEN).hub_url, model)
    entry = {provider: {"status": "live", "providerId": provider_id, "task": task}}
    body = {"id": model, "inferenceProviderMapping": entry}
    return Interaction(HFRequest(url, {}, b""), 200, body, HUB_JSON, method="GET")


def _tape(tapes: dict[str, Any], url_end: str, body_has: str) -> dict[str, Any]:
    for entry in tapes.values():
        if entry["url"].endswith(url_end) and body_has in (entry["init"].get("body") or ""):
            return dict(entry["response"])
    raise KeyError(url_end)


def streams(tapes: dict[str, Any]) -> None:
    """TGI's stream and in-stream error (Llama-3.2-3B), together's completion stream."""
    question = "Please answer the following question: complete one two and ____."
    story = "Write a short story about a robot that becomes sentient and takes over the world."
    ok = _tape(tapes, f"models/{LLAMA}", '"max_new_tokens":50,"seed":0')
    args = {"prompt": question, "max_new_tokens": 50, "seed": 0}
    write_cassette(
        OUT / "text-generation-stream/tgi.yaml",
        [Interaction(_request("text-generation", args, LLAMA, stream=True), 200, ok["body"], SSE)],
    )
    bad = _tape(tapes, f"models/{LLAMA}", '"max_new_tokens":10000')
    args = {"prompt": story, "max_new_tokens": 10000}
    write_cassette(
        OUT / "text-generation-stream/tgi-error.yaml",
        [Interaction(_request("text-generation", args, LLAMA, stream=True), 200, bad["body"], SSE)],
    )
    # The recorded temperature-0 completion of "Paris is", streamed as together streams
    # completions: one choices[].text per token, finish reason and usage last, then [DONE].
    tokens = [" a", " city", " of", " love", ",", " and", " it", "\u2019", "s", " also"]
    events = []
    for i, token in enumerate(tokens):
        last = i == len(tokens) - 1
        choice = {
            "index": 0,
            "text": token,
            "logprobs": None,
            "finish_reason": "length" if last else None,
            "seed": 16804105058607157000 if last else None,
        }
        usage = {"prompt_tokens": 3, "completion_tokens": 10, "total_tokens": 13}
        chunk = {
            "id": "8ff411e559717015",
            "object": "completion.chunk",
            "created": 1736421961,
            "choices": [choice],
            "model": MIXTRAL,
            "usage": usage if last else None,
        }
        events.append(f"data: {json.dumps(chunk, ensure_ascii=False, separators=(',', ':'))}\n\n")
    events.append("data: [DONE]\n\n")
    body = {"model": MIXTRAL, "prompt": "Paris is", "temperature": 0, "max_tokens": 10}
    post = HFRequest(
        "https://router.huggingface.co/together/v1/completions",
        {"content-type": "application/json"},
        json.dumps({**body, "stream": True}, separators=(",", ":")).encode(),
    )
    write_cassette(
        OUT / "text-generation-stream/together.yaml",
        [
            _hub(MIXTRAL, "together", MIXTRAL, "text-generation"),
            Interaction(post, 200, "".join(events), SSE),
        ],
    )


def unused_model_kwargs(recordings: Path) -> None:
    """flan-t5-large's 400 naming unused parameters, then the 200 without them."""
    name = "TestTextGenerationClientVCR.test_generate_non_tgi_endpoint_regression_test.yaml"
    path = recordings / "huggingface_hub/router-era_snapshot-2025-04-23" / name
    refused, answered = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"][1:3]
    args = {
        "prompt": "How are you today?",
        "max_new_tokens": 20,
        "do_sample": False,
        "return_full_text": True,
        "stop": ["\n"],
        "details": True,
    }
    first = _request("text-generation", args, "google/flan-t5-large")
    body = json.loads(first.content)
    unused = ("return_full_text", "stop", "details")
    body["parameters"] = {k: v for k, v in body["parameters"].items() if k not in unused}
    write_cassette(
        OUT / "text-generation/unused-model-kwargs.yaml",
        [
            Interaction(first, 400, refused["response"]["body"]["string"]),
            Interaction(
                replace(first, content=json_body(body)), 200, answered["response"]["body"]["string"]
            ),
        ],
    )


def embeddings() -> None:
    """HFEmbeddings' requests: the recorded hf-inference vector, sambanova's embeddings."""
    recorded = yaml.safe_load((OUT / "feature-extraction/success.yaml").read_text("utf-8"))
    vector = json.loads(recorded["interactions"][-1]["response"]["body"]["string"])

    def answered(*batches: list[str]) -> list[Interaction]:
        return [
            Interaction(
                _request("feature-extraction", {"texts": t}, EMBEDDER), 200, [vector] * len(t)
            )
            for t in batches
        ]

    write_cassette(OUT / "embeddings/hf-inference.yaml", answered(["foo", "bar"]))
    write_cassette(
        OUT / "embeddings/hf-inference-one-by-one.yaml",
        answered(["foo"], ["bar"], ["foo", "bar", "baz"]),
    )
    source = OUT / "providers/sambanova/feature-extraction/e5-mistral.yaml"
    item = yaml.safe_load(source.read_text("utf-8"))["interactions"][0]
    body = json.loads(item["request"]["body"])
    body["input"] = [body["input"]]  # HFEmbeddings sends a list
    post = HFRequest(
        item["request"]["uri"],
        {"content-type": "application/json"},
        json.dumps(body, separators=(",", ":")).encode(),
    )
    write_cassette(
        OUT / "embeddings/sambanova.yaml",
        [
            _hub(E5, "sambanova", "E5-Mistral-7B-Instruct", "feature-extraction"),
            Interaction(post, 200, item["response"]["body"]["string"]),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recordings", type=Path, default=Path("../shared/reference/hf-recordings")
    )
    recordings = parser.parse_args().recordings
    tapes_path = recordings / "huggingface.js/tapes_2025-04-22_router-era.json"
    streams(json.loads(tapes_path.read_text(encoding="utf-8")))
    unused_model_kwargs(recordings)
    embeddings()


if __name__ == "__main__":
    main()
