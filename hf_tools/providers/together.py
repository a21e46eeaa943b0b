"""together: chat, completions, embeddings, images as base64, speech, and videos as jobs.

Recorded: ``/v1/images/generations`` -> ``data[0].b64_json``; ``/v1/completions`` ->
``choices[0].text``; chat completions in the OpenAI format. From huggingface_hub's adapter
(no recording): image-to-image on the images route (``image_url`` for FLUX.1 Kontext, else
``reference_images``); ``/v1/audio/speech`` answering the audio itself; ``/v2/videos``
answering a job ``{"id", "status": "queued"}``, polled at ``/v2/videos/{id}`` until
``completed`` (download ``outputs.video_url``) or ``failed`` (``error.message``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hf_tools.providers._base import (
    Adapter,
    Call,
    Job,
    JobState,
    Request,
    dig,
)
from hf_tools.providers._media import base64_at, binary, data_uri, file_at, speech_payload
from hf_tools.providers.openai import b64_image_payload, fixed, openai_adapters
from hf_tools.tasks import image_to_image, image_to_video, text_to_speech, text_to_video
from hf_tools.tasks._base import Payload
from hf_tools.tasks.image_to_image import ImageToImageInput

PROVIDER = "together"
_VIDEOS = "/v2/videos"
_PENDING = frozenset({"queued", "in_progress"})


def _steps(values: Mapping[str, Any]) -> dict[str, Any]:
    """Our parameters under together's names (it calls the step count ``steps``)."""
    return {("steps" if k == "num_inference_steps" else k): v for k, v in values.items()}


def image_to_image_payload(call: Call[ImageToImageInput]) -> Payload:
    """``{"prompt", image_url | reference_images, "response_format": "base64", ..., "model"}``.

    FLUX.1 Kontext models take only ``image_url``; the others only ``reference_images``.
    """
    image = data_uri(call.media["image"])
    lowered = call.model.lower()
    kontext = "kontext" in lowered and "flux.1" in lowered
    field: dict[str, Any] = {"image_url": image} if kontext else {"reference_images": [image]}
    params = _steps(image_to_image.parameters(call.args))
    body = {"prompt": params.pop("prompt"), **field, "response_format": "base64"}
    return Payload(json={**body, **params, "model": call.model})


def text_to_video_payload(call: Call[Any]) -> Payload:
    """``{"prompt", "model", ...parameters}``."""
    params = _steps(text_to_video.parameters(call.args))
    return Payload(json={"prompt": call.args.prompt, "model": call.model, **params})


def image_to_video_payload(call: Call[Any]) -> Payload:
    """``{"model", "frame_images": [{"input_image": data URI, "frame": "first"}], ...}``."""
    frame = {"input_image": data_uri(call.media["image"]), "frame": "first"}
    prompt = {"prompt": call.args.prompt} if call.args.prompt else {}
    params = _steps(text_to_video.parameters(call.args))
    return Payload(json={"model": call.model, "frame_images": [frame], **prompt, **params})


def video_state(body: Any, call: Call[Any]) -> JobState:
    """Queued / in_progress (or no status yet) -> running; completed -> done; failed raises."""
    status = body.get("status") if isinstance(body, Mapping) else None
    if status is None:
        dig(body, call, "id")
        return "running"
    if status in _PENDING:
        return "running"
    if status == "completed":
        return "done"
    if status == "failed":
        error = body.get("error")
        reason = error.get("message") if isinstance(error, Mapping) else error
        msg = f"together video generation failed: {reason or 'no reason given'}"
        raise call.job_failed(msg, body.get("id"))
    msg = f"unknown together video status {status!r}"
    raise call.format_error(msg)


def video_status(body: Any, call: Call[Any]) -> Request:
    """``GET {router}/together/v2/videos/{id}``."""
    return call.get(f"{call.base}{_VIDEOS}/{dig(body, call, 'id')}")


def _video(task: str, payload: Any, parse: Any) -> Adapter[Any]:
    result = file_at(parse, "outputs", "video_url")
    job = Job(state=video_state, status_request=video_status, result=result, interval=2.0)
    return Adapter(
        provider=PROVIDER, task=task, route=fixed(_VIDEOS), payload=payload, parse=job.follow
    )


ADAPTERS = (
    *openai_adapters(
        PROVIDER,
        chat="/v1/chat/completions",
        completions="/v1/completions",
        embeddings="/v1/embeddings",
        images="/v1/images/generations",
        # together asks for base64 as "base64" and calls the step count "steps".
        image_payload=b64_image_payload(
            response_format="base64", rename={"num_inference_steps": "steps"}
        ),
    ),
    Adapter(
        provider=PROVIDER,
        task="image-to-image",
        route=fixed("/v1/images/generations"),
        payload=image_to_image_payload,
        parse=base64_at(image_to_image.read, "data", 0, "b64_json"),
    ),
    binary(PROVIDER, "text-to-speech", "/v1/audio/speech", speech_payload, text_to_speech.read),
    _video("text-to-video", text_to_video_payload, text_to_video.read),
    _video("image-to-video", image_to_video_payload, image_to_video.read),
)
