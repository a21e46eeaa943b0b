"""wavespeed: images and videos as polled tasks (from huggingface_hub's adapter; no recording).

``POST /api/v3/{model}`` -> ``{"data": {"id", "urls": {"get": URL}}}``; ``GET`` that URL's
path through the router until ``data.status`` is ``completed`` (then download
``data.outputs[0]``) or ``failed`` (``data.error``). Bodies: ``{"prompt", ...}`` for
text-to-image and text-to-video; ``{"image": data URI, "prompt"?, ...}`` for image-to-image
and image-to-video.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from hf_tools.providers._base import (
    Adapter,
    Call,
    Job,
    JobState,
    Request,
    dig,
)
from hf_tools.providers._media import Parse, data_uri, file_at, read_image
from hf_tools.providers.openai import image_parameters
from hf_tools.tasks import image_to_image, image_to_video, text_to_video
from hf_tools.tasks._base import Payload, snippet
from hf_tools.tasks.text_to_image import TextToImageInput

PROVIDER = "wavespeed"
_RUNNING = frozenset({"created", "processing"})


def payload(call: Call[TextToImageInput]) -> Payload:
    """``{"prompt", ...parameters}``."""
    return Payload(json={"prompt": call.args.prompt, **image_parameters(call.args)})


def video_payload(call: Call[Any]) -> Payload:
    """``{"prompt", ...parameters}``."""
    return Payload(json={"prompt": call.args.prompt, **text_to_video.parameters(call.args)})


def image_payload(parameters: Callable[[Any], dict[str, Any]]) -> Callable[[Call[Any]], Payload]:
    """``{"image": data URI, ...parameters}`` (the prompt among them when given)."""

    def build(call: Call[Any]) -> Payload:
        prompt = {"prompt": call.args.prompt} if call.args.prompt else {}
        image = {"image": data_uri(call.media["image"])}
        return Payload(json={**image, **prompt, **parameters(call.args)})

    return build


def state(body: Any, call: Call[Any]) -> JobState:
    """``data.status``: completed -> done, created/processing -> running, failed raises."""
    data = dig(body, call, "data")
    if not isinstance(data, Mapping):
        msg = f"expected an object in ['data'], got {snippet(data)}"
        raise call.format_error(msg)
    status = data.get("status")
    if status == "completed":
        return "done"
    if status in _RUNNING:
        return "running"
    if status == "failed":
        msg = f"wavespeed task failed: {data.get('error') or 'no reason given'}"
        raise call.job_failed(msg, data.get("id"))
    msg = f"unknown wavespeed task status {status!r}"
    raise call.format_error(msg)


def status_request(body: Any, call: Call[Any]) -> Request:
    """The ``data.urls.get`` path, seen through the router (the token goes with it)."""
    return call.get(call.base + urlsplit(dig(body, call, "data", "urls", "get")).path)


def _adapter(task: str, build: Callable[[Call[Any]], Payload], parse: Parse) -> Adapter[Any]:
    result = file_at(parse, "data", "outputs", 0)
    job = Job(state=state, status_request=status_request, result=result, interval=0.5)
    return Adapter(
        provider=PROVIDER,
        task=task,
        route=lambda model: f"/api/v3/{model}",
        payload=build,
        parse=job.follow,
    )


def _edit_parameters(args: Any) -> dict[str, Any]:
    return {k: v for k, v in image_to_image.parameters(args).items() if k != "prompt"}


ADAPTERS = (
    _adapter("text-to-image", payload, read_image),
    _adapter("text-to-video", video_payload, text_to_video.read),
    _adapter("image-to-image", image_payload(_edit_parameters), image_to_image.read),
    _adapter("image-to-video", image_payload(text_to_video.parameters), image_to_video.read),
)
