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
import uuid
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
    """Our task for a recorded provider call, or None when out of scope."""
    if path.endswith("/chat/completions"):
        return "conversational"
    if path.endswith("/completions"):
        return "text-generation"
    if path.endswith("/embeddings"):
        return "feature-extraction"
    if provider == "fal-ai":
        if any(v in path for v in _VIDEO):
            return "text-to-video"
        return (
            "automatic-speech-recognition"
            if "whisper" in path or "wizper" in path
            else "text-to-image"
        )
    if provider == "replicate":
        out = body.get("output")
        first = out if isinstance(out, str) else (out or [""])[0]
        kinds = {".wav": "text-to-speech", ".mp4": "text-to-video"}
        return next((t for ext, t in kinds.items() if first.endswith(ext)), "text-to-image")
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
            if provider == "fal-ai" and task == "text-to-video":
                record["queue"] = fal_queue(record)
            record["args"] = without_none(args_for(record))
            result = _result_url(record)
            if result and result in by_url:
                record["download_type"] = by_url[result]["response"]["headers"].get("content-type")
            yield record


def fal_queue(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The queue answers before a recorded fal result, as fal documents them (not recorded).

    huggingface.js called fal's synchronous route; through the router we use the queue, whose
    result body is the synchronous answer.
    """
    model = urlsplit(record["url"]).path
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, record["source"]))
    response_url = f"https://queue.fal.run{model}/requests/{request_id}"
    submitted = {
        "status": "IN_QUEUE",
        "request_id": request_id,
        "response_url": response_url,
        "status_url": f"{response_url}/status",
        "cancel_url": f"{response_url}/cancel",
        "queue_position": 0,
    }
    return [submitted, {"status": "COMPLETED", "request_id": request_id}]


def _result_url(record: Mapping[str, Any]) -> str | None:
    body = record["body"]
    if record["provider"] == "fal-ai" and record["task"] == "text-to-image":
        return str(body["images"][0]["url"])
    if record["provider"] == "fal-ai" and record["task"] == "text-to-video":
        return str(body["video"]["url"])
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
    for kind, path in FILES.items():
        found[kind] = base64.b64encode(Path(path).read_bytes()).decode()
    return found


# Small real files for the audio and video downloads (the recorder kept none).
FILES = {"audio/wav": "tests/fixtures/speech.wav", "video/mp4": "tests/fixtures/video.mp4"}


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
        args = {"prompt": request["prompt"], "max_new_tokens": request.get("max_tokens")}
        if "temperature" in request:
            args["temperature"] = request["temperature"]
        return args
    if task == "feature-extraction":
        return {"texts": request["input"]}
    if task == "conversational":
        *history, last = request["messages"]
        return {"message": last["content"], "history": history or None}
    if task == "text-to-speech":
        given = request.get("input") or request
        return {"text": given.get("text") or given.get("inputs")}
    if task == "text-to-video":
        given = request.get("input") or request
        keys = ("negative_prompt", "num_frames", "num_inference_steps", "guidance_scale", "seed")
        return {"prompt": given["prompt"], **{k: given[k] for k in keys if k in given}}
    return {"audio": "tests/fixtures/audio.flac"}


def download_kind(record: Mapping[str, Any], url: str, cut: Mapping[str, str]) -> str:
    """The sample a result download answers: the recorded type, else the URL's extension."""
    kind = record.get("download_type") or ""
    if kind.startswith("audio/"):
        return "audio/wav"  # replicate.delivery labels WAV audio/x-wav
    if kind.startswith("video/") or url.split("?")[0].endswith(".mp4"):
        return "video/mp4"  # fal labels its videos application/octet-stream
    return kind if kind in cut else "image/jpeg"


def interactions(
    record: Mapping[str, Any], call: Call[Any], cut: Mapping[str, str]
) -> list[Interaction]:
    """The adapter's requests for this call, answered by the recorded bodies in order."""
    adapter = REGISTRY[(call.provider, call.task)]
    answers: list[tuple[Any, str]] = [(b, "application/json") for b in record.get("queue", [])]
    if record.get("body_file"):  # the answer is the file itself (speech as audio bytes)
        answers.append((base64.b64decode(cut[record["body_file"]]), record["body_file"]))
    else:
        answers.append((record["body"], "application/json"))
    answers += [(p, "application/json") for p in record.get("polls", [])]
    out: list[Interaction] = []
    step: Step = adapter.start(call)
    while isinstance(step, Send):
        req = step.request
        if req.purpose == "download":
            kind = download_kind(record, req.url, cut)
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
    "fal-ai/text-to-video/ltx-video": ("fal-ai", "text-to-video", "fal-ai/ltx-video"),
    "replicate/text-to-speech/kokoro-82m": (
        "replicate",
        "text-to-speech",
        "jaaari/kokoro-82m:dfdf537ba482b029e0a761699e6f55e9162cfd159270bfe0e44857caa5f275a6",
    ),
    "replicate/text-to-video/mochi-1": (
        "replicate",
        "text-to-video",
        "genmoai/mochi-1:1944af04d098ef69bed7f9d335d102e652203f268ec4aaa2d836f6217217e460",
    ),
}
# The documented pairs' cassettes: <provider>/<task>/<name>.yaml, one per DOCUMENTED entry.
DOCUMENTED_NAMES = {
    ("fal-ai", "text-to-speech"): "kokoro",
    ("fal-ai", "image-to-image"): "flux-kontext-dev",
    ("fal-ai", "image-to-video"): "wan-2.2",
    ("replicate", "image-to-image"): "flux-kontext-dev",
    ("together", "text-to-speech"): "sonic-2",
    ("together", "image-to-image"): "flux-kontext-dev",
    ("together", "text-to-video"): "wan-2.2",
    ("together", "image-to-video"): "wan-2.2",
    ("deepinfra", "text-to-speech"): "kokoro",
    ("novita", "text-to-video"): "wan",
    ("wavespeed", "text-to-video"): "wan-2.1",
    ("wavespeed", "image-to-image"): "flux-kontext-dev",
    ("wavespeed", "image-to-video"): "wan-2.1",
}


# Pairs no tape recorded: bodies as huggingface_hub 2.x's adapters read them and the
# providers document them ("docs" in cassettes/INDEX.md). (provider, task, model, args,
# answers before the download, download type); "file:<type>" answers that file's bytes.
_PNG_ARGS = {"image": "tests/fixtures/small.png"}  # a 64x64 grey PNG: small cassettes
_FAL_MEDIA = "https://v3.fal.media/files"
_DELIVERY = "https://replicate.delivery/xezq/Zd3lA6kQ9vRj"
_WAVESPEED = "https://api.wavespeed.ai/api/v3/predictions"
_WAVESPEED_CDN = "https://d1q70pf5vjeyhc.cloudfront.net/predictions"


def _fal_queued(model: str, request_id: str, result: dict[str, Any]) -> list[Any]:
    url = f"https://queue.fal.run/{model}/requests/{request_id}"
    submitted = {
        "status": "IN_QUEUE",
        "request_id": request_id,
        "response_url": url,
        "status_url": f"{url}/status",
        "cancel_url": f"{url}/cancel",
        "queue_position": 0,
    }
    progress = {"status": "IN_PROGRESS", "request_id": request_id, "logs": None}
    return [submitted, progress, {"status": "COMPLETED", "request_id": request_id}, result]


def _wavespeed(task_id: str, model: str, output: str) -> list[Any]:
    get = f"{_WAVESPEED}/{task_id}/result"
    data = {"id": task_id, "model": model, "outputs": [], "urls": {"get": get}, "error": ""}
    done = {**data, "status": "completed", "outputs": [output]}
    return [
        {"code": 200, "message": "success", "data": {**data, "status": "created"}},
        {"code": 200, "message": "success", "data": {**data, "status": "processing"}},
        {"code": 200, "message": "success", "data": done},
    ]


def _together_video(job_id: str, model: str) -> list[Any]:
    job = {"id": job_id, "object": "video", "model": model, "created_at": 1764633600}
    url = f"https://api.together.ai/v1/videos/{job_id}/content"
    return [
        {**job, "status": "queued"},
        {**job, "status": "in_progress"},
        {**job, "status": "completed", "outputs": {"video_url": url, "cost": 0.4}},
    ]


def _replicate_job(job_id: str, model: str, output: str) -> list[Any]:
    job = {"id": job_id, "model": model, "version": "hidden", "error": None, "logs": ""}
    urls = {"get": f"https://api.replicate.com/v1/predictions/{job_id}"}
    return [
        {**job, "status": "starting", "output": None, "urls": urls},
        {**job, "status": "succeeded", "output": output, "urls": urls},
    ]


DOCUMENTED: tuple[tuple[str, str, str, dict[str, Any], list[Any], str], ...] = (
    (
        "fal-ai",
        "text-to-speech",
        "fal-ai/kokoro/american-english",
        {"text": "Hello from hf-tools.", "voice": "af_heart"},
        [{"audio": {"url": f"{_FAL_MEDIA}/koala/speech.wav", "content_type": "audio/wav"}}],
        "audio/wav",
    ),
    (
        "fal-ai",
        "image-to-image",
        "fal-ai/flux-kontext/dev",
        {**_PNG_ARGS, "prompt": "Turn the cat into a tiger.", "seed": 7},
        _fal_queued(
            "fal-ai/flux-kontext",
            "5b1c7c1e-5f0e-4a51-9d3c-b1f0a2c3d4e5",
            {
                "images": [{"url": f"{_FAL_MEDIA}/tiger/edit.png", "content_type": "image/png"}],
                "seed": 7,
                "has_nsfw_concepts": [False],
                "prompt": "Turn the cat into a tiger.",
            },
        ),
        "image/png",
    ),
    (
        "fal-ai",
        "image-to-video",
        "fal-ai/wan/v2.2-a14b/image-to-video",
        {**_PNG_ARGS, "prompt": "The cat turns its head."},
        _fal_queued(
            "fal-ai/wan",
            "0e6a1d2c-3b4f-4c5d-8e9f-a0b1c2d3e4f5",
            {"video": {"url": f"{_FAL_MEDIA}/rabbit/video.mp4"}, "seed": 42},
        ),
        "video/mp4",
    ),
    (
        "replicate",
        "image-to-image",
        "black-forest-labs/flux-kontext-dev",
        {**_PNG_ARGS, "prompt": "Turn the cat into a tiger."},
        _replicate_job(
            "qz1k0c5a3nrj00ct", "black-forest-labs/flux-kontext-dev", f"{_DELIVERY}/output.png"
        ),
        "image/png",
    ),
    (
        "together",
        "text-to-speech",
        "cartesia/sonic-2",
        {"text": "Hello from hf-tools.", "voice": "helpful woman"},
        ["file:audio/wav"],
        "audio/wav",
    ),
    (
        "together",
        "image-to-image",
        "black-forest-labs/FLUX.1-kontext-dev",
        {**_PNG_ARGS, "prompt": "Turn the cat into a tiger.", "num_inference_steps": 28},
        ["b64:image/png"],
        "image/png",
    ),
    (
        "together",
        "text-to-video",
        "Wan-AI/Wan2.2-T2V-A14B",
        {"prompt": "A running dog", "num_inference_steps": 20, "seed": 3},
        _together_video("019ad9c2-7e1f-7a3b-9c4d-5e6f7a8b9c0d", "Wan-AI/Wan2.2-T2V-A14B"),
        "video/mp4",
    ),
    (
        "together",
        "image-to-video",
        "Wan-AI/Wan2.2-I2V-A14B",
        {**_PNG_ARGS, "prompt": "The cat turns its head."},
        _together_video("019ad9c2-8a2b-7c3d-8e4f-6a7b8c9d0e1f", "Wan-AI/Wan2.2-I2V-A14B"),
        "video/mp4",
    ),
    (
        "deepinfra",
        "text-to-speech",
        "hexgrad/Kokoro-82M",
        {"text": "Hello from hf-tools.", "voice": "af_bella"},
        ["file:audio/wav"],
        "audio/wav",
    ),
    (
        "novita",
        "text-to-video",
        "wan-t2v",
        {"prompt": "A running dog", "seed": 3},
        [
            {
                "video": {
                    "video_url": "https://faas-output-video.s3.ap-southeast-1.amazonaws.com/t2v.mp4",
                    "video_url_ttl": "3600",
                    "video_type": "mp4",
                }
            }
        ],
        "video/mp4",
    ),
    (
        "wavespeed",
        "text-to-video",
        "wavespeed-ai/wan-2.1/t2v-480p",
        {"prompt": "A running dog", "seed": 3},
        _wavespeed("w2v1", "wavespeed-ai/wan-2.1/t2v-480p", f"{_WAVESPEED_CDN}/w2v1/1.mp4"),
        "video/mp4",
    ),
    (
        "wavespeed",
        "image-to-image",
        "wavespeed-ai/flux-kontext-dev",
        {**_PNG_ARGS, "prompt": "Turn the cat into a tiger."},
        _wavespeed("wi2i", "wavespeed-ai/flux-kontext-dev", f"{_WAVESPEED_CDN}/wi2i/1.png"),
        "image/png",
    ),
    (
        "wavespeed",
        "image-to-video",
        "wavespeed-ai/wan-2.1/i2v-480p",
        {**_PNG_ARGS, "prompt": "The cat turns its head."},
        _wavespeed("wi2v", "wavespeed-ai/wan-2.1/i2v-480p", f"{_WAVESPEED_CDN}/wi2v/1.mp4"),
        "video/mp4",
    ),
)


def documented(cut: Mapping[str, str]) -> list[dict[str, Any]]:
    """Records of the pairs with no recording, in the recorded ones' shape (source: docs)."""
    found = []
    for provider, task, model, args, answers, kind in DOCUMENTED:
        first, *polls = answers
        record: dict[str, Any] = {
            "source": f"docs: huggingface_hub 2.x inference/_providers ({provider}, {task})",
            "provider": provider,
            "task": task,
            "model": model,
            "status": 200,
            "body": first,
            "polls": polls,
            "args": args,
            "download_type": kind,
        }
        if isinstance(first, str) and first.startswith("file:"):
            record["body"], record["body_file"] = None, first.removeprefix("file:")
        elif isinstance(first, str) and first.startswith("b64:"):
            record["body"] = {"data": [{"index": 0, "b64_json": cut[first.removeprefix("b64:")]}]}
        found.append(record)
    return found


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


# The success cassettes of the tasks only providers serve (cassettes/<task>/success.yaml):
# the Hub's mapping of the default model to one provider, then that provider's flow for the
# task's example, answered by a recorded (or documented) call of the same provider and task.
SUCCESS = {
    "text-to-speech": (
        "replicate",
        "jaaari/kokoro-82m:dfdf537ba482b029e0a761699e6f55e9162cfd159270bfe0e44857caa5f275a6",
    ),
    "text-to-video": (
        "replicate",
        "genmoai/mochi-1:1944af04d098ef69bed7f9d335d102e652203f268ec4aaa2d836f6217217e460",
    ),
    "image-to-image": ("fal-ai", "fal-ai/flux-kontext/dev"),
    "image-to-video": ("fal-ai", "fal-ai/wan/v2.2-a14b/image-to-video"),
}


def success_cassettes(
    records: list[dict[str, Any]], cut: Mapping[str, str], media: Mapping[str, Media]
) -> None:
    """``cassettes/<task>/success.yaml`` for each task of :data:`SUCCESS`."""
    from hf_tools.routing import hub_task

    for task, (provider, model) in SUCCESS.items():
        spec = get_spec(task)
        record = next(
            r for r in records if (r["provider"], r["task"], r["model"]) == (provider, task, model)
        )
        mapping = {
            "id": spec.default_model,
            "inferenceProviderMapping": [
                {
                    "provider": provider,
                    "providerId": model,
                    "status": "live",
                    "task": hub_task(task),
                }
            ],
        }
        url = mapping_url(DEFAULT_HUB_URL, spec.default_model)
        hub = Interaction(
            HFRequest(url, {}, b""),
            200,
            json.dumps(mapping, separators=(",", ":")),
            {"content-type": "application/json; charset=utf-8"},
            "GET",
        )
        # One answer per request: suites replay these with repeats allowed, where a second
        # status poll would get the first one's IN_PROGRESS again, and again.
        polls = [p for p in record.get("polls", []) if p.get("status") != "IN_PROGRESS"]
        record = {**record, "polls": polls}
        call = _call(record, spec.example, {f: media[f] for f in spec.media_fields})
        path = write_cassette(
            Path("cassettes") / task / "success.yaml", [hub, *interactions(record, call, cut)]
        )
        print(f"{path}  <- {record['source']} (request built from the task's example)")


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
    docs = documented(cut)
    docs_fixture = fixture.with_name("documented.json")
    docs_fixture.write_text(
        json.dumps({"records": docs}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{docs_fixture}: {len(docs)} records")
    hub_cassettes(ns.reference)
    media = {
        "audio": Media(Path("tests/fixtures/audio.flac").read_bytes(), "audio/flac"),
        "image": Media(Path("tests/fixtures/small.png").read_bytes(), "image/png"),
    }
    chosen = [
        (name, next(r for r in records if (r["provider"], r["task"], r["model"]) == key))
        for name, key in CASSETTES.items()
    ]
    chosen += [
        (f"{r['provider']}/{r['task']}/{DOCUMENTED_NAMES[(r['provider'], r['task'])]}", r)
        for r in docs
    ]
    for name, record in chosen:
        fields = get_spec(record["task"]).media_fields
        call = _call(record, record["args"], {f: media[f] for f in fields})
        path = write_cassette(
            Path("cassettes/providers") / f"{name}.yaml", interactions(record, call, cut)
        )
        print(f"{path}  <- {record['source']}")
    success_cassettes(records + docs, cut, media)


if __name__ == "__main__":
    main()
