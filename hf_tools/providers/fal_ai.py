"""fal-ai: text-to-image and speech recognition on ``fal.run``, through the router.

* text-to-image: ``POST /{model}`` ``{"prompt", "image_size": {width, height}, ...}`` ->
  ``{"images": [{"url", "width", "height", "content_type"}]}``; the image is then downloaded
  from ``url`` (fal.media, without the token), or decoded in place when fal answers a
  ``data:`` URI (``sync_mode``).
* automatic-speech-recognition: ``POST /{model}`` ``{"audio_url": "data:<mime>;base64,..."}``
  -> ``{"text", "chunks": [{"timestamp": [start, end], "text"}]}``.
* image-segmentation, through fal's queue (from huggingface_hub's adapter; no recording):
  ``POST /{model}?_subdomain=queue`` ``{"image_url": data URI, "sync_mode": true}`` ->
  ``{"request_id", "status", "response_url"}``; poll ``{response path}/status`` until
  ``COMPLETED``; GET ``{response path}`` -> ``{"image": {"url"}}``: one mask. A cancelled
  call PUTs ``{response path}/cancel`` (fal's ``cancel_url``).
* text-to-speech: ``POST /{model}`` ``{"text", "voice"?}`` -> ``{"audio": {"url"}}``; the
  audio is downloaded (from huggingface_hub's adapter; no recording).
* text-to-video, image-to-video, image-to-image: through the queue, as segmentation. Bodies
  ``{"prompt", ...}``, ``{"image_url": data URI, "prompt"?, ...}`` and ``{"image_url",
  "image_urls": [data URI], "prompt", ...}``; results ``{"video": {"url"}}`` (recorded, from
  fal's synchronous route: the same body) and ``{"images": [{"url"}]}``, then downloaded.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from hf_tools.providers._base import (
    Adapter,
    Call,
    Done,
    Job,
    JobState,
    Reply,
    Request,
    Send,
    Step,
    dig,
    download,
)
from hf_tools.providers._media import Parse, data_uri, file_at
from hf_tools.providers.openai import image_done, image_parameters
from hf_tools.tasks import automatic_speech_recognition as asr
from hf_tools.tasks import (
    image_segmentation,
    image_to_image,
    image_to_video,
    text_to_speech,
    text_to_video,
)
from hf_tools.tasks._base import Payload
from hf_tools.tasks.automatic_speech_recognition import AutomaticSpeechRecognitionInput
from hf_tools.tasks.image_segmentation import ImageSegmentationInput
from hf_tools.tasks.image_to_image import ImageToImageInput
from hf_tools.tasks.image_to_video import ImageToVideoInput
from hf_tools.tasks.text_to_image import TextToImageInput
from hf_tools.tasks.text_to_speech import TextToSpeechInput

PROVIDER = "fal-ai"
_QUEUE = "?_subdomain=queue"  # the router's way to reach queue.fal.run
_QUEUED = frozenset({"IN_QUEUE", "IN_PROGRESS"})


def model_route(model: str) -> str:
    """Fal routes are the model id itself: ``/fal-ai/flux/schnell``."""
    return f"/{model}"


def with_lora(body: dict[str, Any], call: Call[Any]) -> Payload:
    """``body``, plus a LoRA model's weights as huggingface_hub sends them.

    ``loras: [{"path": the weights file's Hub URL, "scale": 1}]``; fal's Stable Diffusion
    LoRA route (``fal-ai/lora``) also needs its base model named, its FLUX routes do not.
    """
    if call.lora is not None:
        body["loras"] = [{"path": call.lora.weights_url, "scale": 1}]
        if call.model == "fal-ai/lora" and call.task == "text-to-image":
            body["model_name"] = "stabilityai/stable-diffusion-xl-base-1.0"
    return Payload(json=body)


def text_to_image_payload(call: Call[TextToImageInput]) -> Payload:
    """``{"prompt", "image_size"?: {width, height}, ...}`` (fal wants the size as one object)."""
    params = image_parameters(call.args)
    width, height = params.pop("width", None), params.pop("height", None)
    if width is not None and height is not None:
        params["image_size"] = {"width": width, "height": height}
    return with_lora({"prompt": call.args.prompt, **params}, call)


def parse_text_to_image(body: Any, call: Call[TextToImageInput]) -> Step:
    """``images[0].url`` -> download it (or decode it, if it is a data URI)."""
    return download(dig(body, call, "images", 0, "url"), call, lambda data: image_done(data, call))


def asr_payload(call: Call[AutomaticSpeechRecognitionInput]) -> Payload:
    """``{"audio_url": data URI}``: the audio inline, with its detected MIME type."""
    audio = call.media["audio"]
    return Payload(json={"audio_url": f"data:{audio.mime};base64,{audio.b64()}"})


def parse_asr(body: Any, call: Call[AutomaticSpeechRecognitionInput]) -> Step:
    """``{"text", "chunks"}``; the chunks are kept only when timestamps were asked for."""
    text = dig(body, call, "text")
    chunks = body.get("chunks") if call.args.return_timestamps else None
    return Done(asr.parse({"text": text, "chunks": chunks}, call.args))


def queue_state(body: Any, call: Call[Any]) -> JobState:
    """Fal queue ``status``: COMPLETED -> done; IN_QUEUE / IN_PROGRESS -> running."""
    status = dig(body, call, "status")
    if status == "COMPLETED":
        return "done"
    if status in _QUEUED:
        return "running"
    msg = f"fal-ai queue request ended with status {status!r}: {body.get('error') or body}"
    raise call.job_failed(msg, body.get("request_id"))


def _response_path(submitted: Any, call: Call[Any]) -> str:
    """The path of the submit answer's ``response_url`` (it may name another model id)."""
    return urlsplit(str(dig(submitted, call, "response_url"))).path


def queue_parse(
    result: Callable[[Reply, Call[Any]], Step],
) -> Callable[[Any, Call[Any]], Step]:
    """A parser following fal's queue: poll the status, then GET the result and ``result``."""

    def parse(submitted: Any, call: Call[Any]) -> Step:
        path = _response_path(submitted, call)

        def status_request(body: Any, c: Call[Any]) -> Request:
            return c.get(f"{c.base}{path}/status{_QUEUE}")

        def fetch(body: Any, c: Call[Any]) -> Step:
            request = c.get(f"{c.base}{path}{_QUEUE}", "call")
            return Send(request, lambda reply: result(reply, c))

        def cancel_request(body: Any, c: Call[Any]) -> Request:
            return Request("PUT", f"{c.base}{path}/cancel{_QUEUE}")

        job = Job(
            state=queue_state,
            status_request=status_request,
            result=fetch,
            interval=0.5,
            cancel_request=cancel_request,
        )
        return job.follow(submitted, call)

    return parse


def segmentation_payload(call: Call[ImageSegmentationInput]) -> Payload:
    """``{"image_url": data URI, "sync_mode": true}``: the mask comes back inline."""
    image = call.media["image"]
    return Payload(json={"image_url": f"data:{image.mime};base64,{image.b64()}", "sync_mode": True})


def segmentation_result(reply: Reply, call: Call[ImageSegmentationInput]) -> Step:
    """``{"image": {"url"}}`` -> one segment labelled ``mask`` (fal gives no label or score)."""

    def done(mask: bytes) -> Step:
        item = {"label": "mask", "mask": base64.b64encode(mask).decode()}
        return Done(image_segmentation.parse([item], call.args))

    return download(dig(reply.body, call, "image", "url"), call, done)


def queue_route(model: str) -> str:
    """The model's route on fal's queue: ``/{model}?_subdomain=queue``."""
    return f"/{model}{_QUEUE}"


def speech_payload(call: Call[TextToSpeechInput]) -> Payload:
    """``{"text", "voice"?}``."""
    return Payload(json={"text": call.args.text, **text_to_speech.parameters(call.args)})


def text_to_video_payload(call: Call[Any]) -> Payload:
    """``{"prompt", ...parameters}`` (fal's video models take our parameter names)."""
    return with_lora({"prompt": call.args.prompt, **text_to_video.parameters(call.args)}, call)


def image_to_video_payload(call: Call[ImageToVideoInput]) -> Payload:
    """``{"image_url": data URI, "prompt"?, ...parameters}``."""
    prompt = {"prompt": call.args.prompt} if call.args.prompt else {}
    body = {"image_url": data_uri(call.media["image"]), **prompt}
    return with_lora({**body, **text_to_video.parameters(call.args)}, call)


def image_to_image_payload(call: Call[ImageToImageInput]) -> Payload:
    """``{"image_url", "image_urls": [...], "prompt", ...}``: models read one key or the other."""
    image = data_uri(call.media["image"])
    body = {"image_url": image, "image_urls": [image]}
    return with_lora({**body, **image_to_image.parameters(call.args)}, call)


def queued_file(parse: Parse, *path: str | int) -> Callable[[Any, Call[Any]], Step]:
    """A queue parser whose result body names a file at ``path``: poll, fetch, download."""
    result = file_at(parse, *path)
    return queue_parse(lambda reply, call: result(reply.body, call))


def _queued(task: str, payload: Callable[[Call[Any]], Payload], parse: Any) -> Adapter[Any]:
    return Adapter(provider=PROVIDER, task=task, route=queue_route, payload=payload, parse=parse)


ADAPTERS = (
    Adapter(
        provider=PROVIDER,
        task="text-to-image",
        route=model_route,
        payload=text_to_image_payload,
        parse=parse_text_to_image,
    ),
    Adapter(
        provider=PROVIDER,
        task="automatic-speech-recognition",
        route=model_route,
        payload=asr_payload,
        parse=parse_asr,
    ),
    Adapter(
        provider=PROVIDER,
        task="image-segmentation",
        route=queue_route,
        payload=segmentation_payload,
        parse=queue_parse(segmentation_result),
    ),
    Adapter(
        provider=PROVIDER,
        task="text-to-speech",
        route=model_route,
        payload=speech_payload,
        parse=file_at(text_to_speech.read, "audio", "url"),
    ),
    _queued(
        "text-to-video",
        text_to_video_payload,
        queued_file(text_to_video.read, "video", "url"),
    ),
    _queued(
        "image-to-video",
        image_to_video_payload,
        queued_file(image_to_video.read, "video", "url"),
    ),
    _queued(
        "image-to-image",
        image_to_image_payload,
        queued_file(image_to_image.read, "images", 0, "url"),
    ),
)
