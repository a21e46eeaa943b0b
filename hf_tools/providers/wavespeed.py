"""wavespeed: text-to-image as a polled task (from huggingface_hub's adapter; no recording).

``POST /api/v3/{model}`` ``{"prompt", ...}`` -> ``{"data": {"id", "urls": {"get": URL}}}``;
``GET`` that URL's path through the router until ``data.status`` is ``completed`` (then
download ``data.outputs[0]``) or ``failed`` (``data.error``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hf_tools.providers._base import (
    Adapter,
    Call,
    Job,
    JobFailedError,
    JobState,
    Request,
    Step,
    dig,
    download,
)
from hf_tools.providers.openai import image_done, image_parameters
from hf_tools.tasks._base import Payload
from hf_tools.tasks.text_to_image import TextToImageInput

PROVIDER = "wavespeed"
_RUNNING = frozenset({"created", "processing"})


def payload(call: Call[TextToImageInput]) -> Payload:
    """``{"prompt", ...parameters}``."""
    return Payload(json={"prompt": call.args.prompt, **image_parameters(call.args)})


def state(body: Any, call: Call[Any]) -> JobState:
    """``data.status``: completed -> done, created/processing -> running, failed raises."""
    data = dig(body, call, "data")
    status = data.get("status")
    if status == "completed":
        return "done"
    if status in _RUNNING:
        return "running"
    if status == "failed":
        msg = f"wavespeed task failed: {data.get('error') or 'no reason given'}"
        raise JobFailedError(msg, job_id=data.get("id"), task=call.task, model=call.model)
    msg = f"unknown wavespeed task status {status!r}"
    raise call.format_error(msg)


def status_request(body: Any, call: Call[Any]) -> Request:
    """The ``data.urls.get`` path, seen through the router (the token goes with it)."""
    return call.get(call.base + urlsplit(dig(body, call, "data", "urls", "get")).path)


def result(body: Any, call: Call[TextToImageInput]) -> Step:
    """``data.outputs[0]`` -> download the image."""
    url = dig(body, call, "data", "outputs", 0)
    return download(url, call, lambda data: image_done(data, call))


ADAPTERS = (
    Adapter(
        provider=PROVIDER,
        task="text-to-image",
        route=lambda model: f"/api/v3/{model}",
        payload=payload,
        parse=Job(state=state, status_request=status_request, result=result, interval=0.5).follow,
    ),
)
