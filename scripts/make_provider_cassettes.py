"""Copy the provider responses of the huggingface.js tapes into the repo, rewritten to the router.

    python scripts/make_provider_cassettes.py ../shared/reference/hf-recordings

Writes ``tests/fixtures/providers/recorded.json`` (every in-scope provider response body of
both tapes, with its source, for the parse-them-all tests) and the cassettes under
``cassettes/providers/<provider>/<task>/`` whose requests are built by our adapters, so they
match what we send through ``https://router.huggingface.co/{provider}``. Run once; the tests
never read the reference set. List new cassettes in ``cassettes/INDEX.md``.

The recorder kept no result-file bodies (fal.media, replicate.delivery...) and cut long base64
strings to 1000 characters; download bodies here are such cut images of the same type from
the same tapes (``SAMPLES``), which is all the parser reads (magic bytes, header size).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hf_tools.http import HFRequest
from hf_tools.providers import REGISTRY, Call, Done, Send
from hf_tools.providers._base import Reply, Step, without_none
from hf_tools.routing import DEFAULT_HUB_URL, mapping_url
from hf_tools.tasks import get_spec
from hf_tools.tasks._base import Media
from hf_tools.testing import Interaction, write_cassette

ROUTER = "https://router.huggingface.co"
TAPES = ("tapes_2025-04-22_router-era.json", "tapes_2025-02-05_api-inference-era.json")
HOSTS = {
    "fal.run": "fal-ai",
    "api.replicate.com": "replicate",
    "api.together.xyz": "together",
    "api.studio.nebius.ai": "nebius",
    "api.hyperbolic.xyz": "hyperbolic",
    "api.us1.bfl.ai": "black-forest-labs",
    "api.sambanova.ai": "sambanova",
    "api.novita.ai": "novita",
    "api.cerebras.ai": "cerebras",
    "api.cohere.com": "cohere",
    "api.fireworks.ai": "fireworks-ai",
}
_VIDEO = ("cogvideox", "hunyuan", "ltx", "mochi")
_CUT = 1000  # the recorder's own cut for long base64 strings


def task_of(provider: str, path: str, body: Any) -> str | None:
    """Our task for a recorded provider call, or None when out of scope (video, TTS)."""
    if path.endswith("/chat/completions"):
        return "conversational"
    if path.endswith("/completions"):
        return "text-generation"
    if path.endswith("/embeddings"):
        return "feature-extraction"
    if provider == "fal-ai":
        if any(v in path for v in _VIDEO):
            return None
        return (
            "automatic-speech-recognition"
            if "whisper" in path or "wizper" in path
            else "text-to-image"
        )
    if provider == "replicate":
        out = body.get("output")
        first = out if isinstance(out, str) else (out or [""])[0]
        return None if first.endswith((".wav", ".mp4")) else "text-to-image"
    if path.endswith("/images/generations") or provider == "black-forest-labs":
        return "text-to-image"
    return None


def provider_model(provider: str, path: str, request: Any, body: Any) -> str:
    """The provider-side model id the recorded call used."""
    if provider in ("fal-ai", "black-forest-labs"):
        return path.removeprefix("/v1/") if provider == "black-forest-labs" else path[1:]
    if provider == "replicate":
        if path == "/v1/predictions":
            return f"{body['model']}:{request['version']}"
        return path.removeprefix("/v1/models/").removesuffix("/predictions")
    return str(request.get("model_name") or request.get("model"))


def _cut(text: str) -> str:
    """A long data URI cut as the recorder cut the others (1000 base64 characters)."""
    head, sep, data = text.partition(",")
    return f"{head}{sep}{data[:_CUT]}" if sep and len(data) > _CUT else text


def _cut_body(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _cut_body(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_cut_body(v) for v in body]
    return _cut(body) if isinstance(body, str) and body.startswith("data:") else body


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def recorded(reference: Path) -> Iterator[dict[str, Any]]:
    """Every in-scope 2xx provider response of both tapes, with what the tests need."""
    for name in TAPES:
        tape = json.loads((reference / "huggingface.js" / name).read_text(encoding="utf-8"))
        by_url = {v["url"]: v for v in tape.values()}
        for key, entry in tape.items():
            url = urlsplit(entry["url"])
            provider = HOSTS.get(url.netloc)
            response = entry["response"]
            body = _json(response.get("body"))
            if provider is None or not 200 <= response["status"] < 300 or body is None:
                continue
            if url.path.startswith("/v1/get_result"):
                continue  # a BFL poll: attached to its submit below
            request = _json(entry["init"].get("body")) or {}
            task = task_of(provider, url.path, body)
            if task is None or request.get("stream"):
                continue
            record: dict[str, Any] = {
                "source": f"huggingface.js/{name}#{key}",
                "provider": provider,
                "task": task,
                "model": provider_model(provider, url.path, request, body),
                "url": entry["url"],
                "request": request or None,
                "status": response["status"],
                "body": _cut_body(body),
            }
            if provider == "black-forest-labs":
                polls = [v for u, v in by_url.items() if u.startswith(body["polling_url"] + "&")]
                record["polls"] = [
                    _json(p["response"]["body"]) for p in sorted(polls, key=lambda p: p["url"])
                ]
            record["args"] = without_none(args_for(record))
            result = _result_url(record)
            if result and result in by_url:
                record["download_type"] = by_url[result]["response"]["headers"].get("content-type")
            yield record


def _result_url(record: Mapping[str, Any]) -> str | None:
    body = record["body"]
    if record["provider"] == "fal-ai" and record["task"] == "text-to-image":
        return str(body["images"][0]["url"])
    if record["provider"] == "replicate":
        out = body["output"]
        return str(out if isinstance(out, str) else out[0])
    if record["provider"] == "black-forest-labs":
        return str(record["polls"][-1]["result"]["sample"])
    return None


def samples(records: list[dict[str, Any]]) -> dict[str, str]:
    """Cut real images by type (base64), taken from b64 answers in the same tapes."""
    found: dict[str, str] = {}
    for r in records:
        text = json.dumps(r["body"])
        for match in re.finditer(
            r'"(?:b64_json|image|url)": "(?:data:[^,]*,)?([A-Za-z0-9+/=]{200,})"', text
        ):
            data = base64.b64decode(match.group(1))
            kind = (
                "image/png"
                if data[:4] == b"\x89PNG"
                else "image/webp"
                if data[8:12] == b"WEBP"
                else "image/jpeg"
            )
            found.setdefault(kind, match.group(1))
    return found


def _call(
    record: Mapping[str, Any], args: Mapping[str, Any], media: Mapping[str, Media]
) -> Call[Any]:
    spec = get_spec(record["task"])
    return Call(
        task=record["task"],
        provider=record["provider"],
        model=record["model"],
        args=spec.input_model.model_validate(args),
        media=media,
        router_url=ROUTER,
    )


def args_for(record: Mapping[str, Any]) -> dict[str, Any]:
    """The task arguments that reproduce a recorded request (see tests/test_providers.py)."""
    request = record["request"] or {}
    task = record["task"]
    if task == "text-to-image":
        prompt = request.get("prompt") or request.get("input", {}).get("prompt")
        keys = ("negative_prompt", "width", "height", "num_inference_steps", "seed")
        sizes = {k: request[k] for k in keys if k in request}
        return {"prompt": prompt, **sizes}
    if task == "text-generation":
        return {"prompt": request["prompt"], "max_new_tokens": request.get("max_tokens")}
    if task == "feature-extraction":
        return {"texts": request["input"]}
    if task == "conversational":
        *history, last = request["messages"]
        return {"message": last["content"], "history": history or None}
    return {"audio": "tests/fixtures/audio.flac"}


def interactions(
    record: Mapping[str, Any], call: Call[Any], cut: Mapping[str, str]
) -> list[Interaction]:
    """The adapter's requests for this call, answered by the recorded bodies in order."""
    adapter = REGISTRY[(call.provider, call.task)]
    answers: list[tuple[Any, str]] = [(record["body"], "application/json")]
    answers += [(p, "application/json") for p in record.get("polls", [])]
    out: list[Interaction] = []
    step: Step = adapter.start(call)
    while isinstance(step, Send):
        req = step.request
        if req.purpose == "download":
            kind = record.get("download_type") or "image/jpeg"
            kind = kind if kind in cut else "image/jpeg"
            body: Any = base64.b64decode(cut[kind])
            ctype = kind
        else:
            body, ctype = answers.pop(0)
        headers = dict(req.headers)
        content = b""
        if req.payload is not None:
            headers["content-type"] = "application/json"
            content = json.dumps(req.payload.json, separators=(",", ":")).encode()
        status = record["status"] if req.purpose == "call" else 200
        out.append(
            Interaction(
                HFRequest(req.url, headers, content),
                status,
                body,
                {"content-type": ctype},
                req.method,
            )
        )
        step = step.then(Reply(body, ctype, status))
    assert isinstance(step, Done)
    return out


CASSETTES = {
    # scenario name -> (provider, task, model)  (the first recorded call of that model)
    "fal-ai/text-to-image/flux-schnell": ("fal-ai", "text-to-image", "fal-ai/flux/schnell"),
    "fal-ai/text-to-image/flux-lora-data-uri": ("fal-ai", "text-to-image", "fal-ai/flux-lora"),
    "fal-ai/automatic-speech-recognition/whisper": (
        "fal-ai",
        "automatic-speech-recognition",
        "fal-ai/whisper",
    ),
    "replicate/text-to-image/flux-schnell": (
        "replicate",
        "text-to-image",
        "black-forest-labs/flux-schnell",
    ),
    "replicate/text-to-image/version-pinned": (
        "replicate",
        "text-to-image",
        "bytedance/sdxl-lightning-4step:5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637",
    ),
    "together/text-to-image/sdxl": (
        "together",
        "text-to-image",
        "stabilityai/stable-diffusion-xl-base-1.0",
    ),
    "together/text-generation/mixtral": (
        "together",
        "text-generation",
        "mistralai/Mixtral-8x7B-v0.1",
    ),
    "together/conversational/llama-3.3-70b": (
        "together",
        "conversational",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    ),
    "sambanova/feature-extraction/e5-mistral": (
        "sambanova",
        "feature-extraction",
        "E5-Mistral-7B-Instruct",
    ),
    "nebius/text-to-image/flux-schnell": (
        "nebius",
        "text-to-image",
        "black-forest-labs/flux-schnell",
    ),
    "hyperbolic/text-to-image/sd2": ("hyperbolic", "text-to-image", "SD2"),
    "black-forest-labs/text-to-image/flux-dev": ("black-forest-labs", "text-to-image", "flux-dev"),
    "novita/conversational/llama-3.1-8b": (
        "novita",
        "conversational",
        "meta-llama/llama-3.1-8b-instruct",
    ),
    "cohere/conversational/command-r7b": ("cohere", "conversational", "command-r7b-12-2024"),
    "cerebras/conversational/llama3.1-8b": ("cerebras", "conversational", "llama3.1-8b"),
    "fireworks-ai/conversational/deepseek-r1": (
        "fireworks-ai",
        "conversational",
        "accounts/fireworks/models/deepseek-r1",
    ),
    "sambanova/conversational/llama-3.1-8b": (
        "sambanova",
        "conversational",
        "Meta-Llama-3.1-8B-Instruct",
    ),
    "hyperbolic/conversational/llama-3.2-3b": (
        "hyperbolic",
        "conversational",
        "meta-llama/Llama-3.2-3B-Instruct",
    ),
    "nebius/conversational/llama-3.1-8b": (
        "nebius",
        "conversational",
        "meta-llama/Meta-Llama-3.1-8B-Instruct",
    ),
}


MAPPING_SOURCE = (
    "huggingface_hub/router-era_snapshot-2025-04-23/"
    "TestInferenceClient.test_chat_completion_no_stream[cerebras,conversational].yaml"
)
# The list form, as huggingface_hub's model-info parser documents it (no recording has it).
LIST_FORM = {
    "_id": "66aaa908fc35e079a941470d",
    "id": "black-forest-labs/FLUX.1-schnell",
    "inferenceProviderMapping": [
        {
            "provider": "hf-inference",
            "providerId": "black-forest-labs/FLUX.1-schnell",
            "status": "staging",
            "task": "text-to-image",
        },
        {
            "provider": "fal-ai",
            "providerId": "fal-ai/flux/schnell",
            "status": "live",
            "task": "text-to-image",
        },
        {
            "provider": "replicate",
            "providerId": "black-forest-labs/flux-schnell",
            "status": "live",
            "task": "text-to-image",
        },
        {
            "provider": "together",
            "providerId": "black-forest-labs/FLUX.1-schnell",
            "status": "live",
            "task": "text-to-image",
        },
        {
            "provider": "nscale",
            "providerId": "black-forest-labs/FLUX.1-schnell",
            "status": "live",
            "task": "text-to-image",
        },
    ],
}


def hub_cassettes(reference: Path) -> None:
    """The Hub's mapping answers: the recorded object form, the documented list form."""
    import yaml

    data = yaml.load((reference / MAPPING_SOURCE).read_text(encoding="utf-8"), Loader=yaml.Loader)
    first = data["interactions"][0]
    model = "meta-llama/Llama-3.3-70B-Instruct"
    folder = Path("cassettes/providers/hub/inference-provider-mapping")
    for name, model_id, body in (
        ("object-form", model, first["response"]["body"]["string"]),
        ("list-form", LIST_FORM["id"], json.dumps(LIST_FORM, separators=(",", ":"))),
    ):
        url = mapping_url(DEFAULT_HUB_URL, model_id)
        request = HFRequest(url, {}, b"")
        item = Interaction(
            request, 200, body, {"content-type": "application/json; charset=utf-8"}, "GET"
        )
        print(write_cassette(folder / f"{name}.yaml", [item]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="the hf-recordings folder")
    ns = parser.parse_args()
    records = list(recorded(ns.reference))
    cut = samples(records)
    fixture = Path("tests/fixtures/providers/recorded.json")
    fixture.parent.mkdir(parents=True, exist_ok=True)
    fixture.write_text(
        json.dumps({"samples": cut, "records": records}, indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    print(f"{fixture}: {len(records)} records")
    hub_cassettes(ns.reference)
    audio = Media(Path("tests/fixtures/audio.flac").read_bytes(), "audio/flac")
    for name, (provider, task, model) in CASSETTES.items():
        record = next(
            r for r in records if (r["provider"], r["task"], r["model"]) == (provider, task, model)
        )
        media = {"audio": audio} if task == "automatic-speech-recognition" else {}
        call = _call(record, record["args"], media)
        path = write_cassette(
            Path("cassettes/providers") / f"{name}.yaml", interactions(record, call, cut)
        )
        print(f"{path}  <- {record['source']}")


if __name__ == "__main__":
    main()
