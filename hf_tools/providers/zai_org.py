"""zai-org: chat, and text-to-image as an async task (from huggingface_hub; no recording).

Chat: ``/api/paas/v4/chat/completions`` (OpenAI format). Images:
``POST /api/paas/v4/async/images/generations`` ``{"model", "prompt", "size": "WxH"}`` ->
``{"id", "task_status"}``; ``GET /api/paas/v4/async-result/{id}`` until ``SUCCESS`` (then
download ``image_result[0].url``) or ``FAIL``. Both routes want two zai headers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hf_tools.providers._base import (
    Adapter,
    Call,
    Job,
    JobState,
    Request,
    Step,
    dig,
    download,
)
from hf_tools.providers.openai import b64_image_payload, fixed, image_done, openai_adapters

PROVIDER = "zai-org"
HEADERS = {"Accept-Language": "en-US,en", "x-source-channel": "hugging_face"}


def state(body: Any, call: Call[Any]) -> JobState:
    """``task_status``: SUCCESS -> done, PROCESSING -> running, FAIL raises."""
    status = dig(body, call, "task_status")
    if status == "SUCCESS":
        return "done"
    if status == "PROCESSING":
        return "running"
    if status == "FAIL":
        msg = f"zai-org image generation failed: {body.get('error') or 'no reason given'}"
        raise call.job_failed(msg, body.get("id"))
    msg = f"unknown zai-org task status {status!r}"
    raise call.format_error(msg)


def status_request(body: Any, call: Call[Any]) -> Request:
    """``GET {router}/zai-org/api/paas/v4/async-result/{id}``, with the zai headers."""
    request = call.get(f"{call.base}/api/paas/v4/async-result/{dig(body, call, 'id')}")
    return replace(request, headers=HEADERS)


def result(body: Any, call: Call[Any]) -> Step:
    """``image_result[0].url`` -> download the image."""
    url = dig(body, call, "image_result", 0, "url")
    return download(url, call, lambda data: image_done(data, call))


_chat = openai_adapters(PROVIDER, chat="/api/paas/v4/chat/completions")
ADAPTERS = (
    *(replace(a, headers=HEADERS) for a in _chat),
    Adapter(
        provider=PROVIDER,
        task="text-to-image",
        route=fixed("/api/paas/v4/async/images/generations"),
        # zai takes only model, prompt and size (huggingface_hub sends nothing else either).
        payload=b64_image_payload(
            response_format="",
            size_as_text=True,
            rename={
                "num_inference_steps": "",
                "guidance_scale": "",
                "negative_prompt": "",
                "seed": "",
            },
        ),
        parse=Job(state=state, status_request=status_request, result=result, interval=5.0).follow,
        headers=HEADERS,
    ),
)
