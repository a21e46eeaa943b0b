"""fal-ai: text-to-image and speech recognition on ``fal.run``, through the router.

* text-to-image: ``POST /{model}`` ``{"prompt", "image_size": {width, height}, ...}`` ->
  ``{"images": [{"url", "width", "height", "content_type"}]}``; the image is then downloaded
  from ``url`` (fal.media, without the token), or decoded in place when fal answers a
  ``data:`` URI (``sync_mode``).
* automatic-speech-recognition: ``POST /{model}`` ``{"audio_url": "data:<mime>;base64,..."}``
  -> ``{"text", "chunks": [{"timestamp": [start, end], "text"}]}``.
"""

from __future__ import annotations

from typing import Any

from hf_tools.providers._base import Adapter, Call, Done, Step, dig, download
from hf_tools.providers.openai import image_done, image_parameters
from hf_tools.tasks import automatic_speech_recognition as asr
from hf_tools.tasks._base import Payload
from hf_tools.tasks.automatic_speech_recognition import AutomaticSpeechRecognitionInput
from hf_tools.tasks.text_to_image import TextToImageInput

PROVIDER = "fal-ai"


def model_route(model: str) -> str:
    """Fal routes are the model id itself: ``/fal-ai/flux/schnell``."""
    return f"/{model}"


def text_to_image_payload(call: Call[TextToImageInput]) -> Payload:
    """``{"prompt", "image_size"?: {width, height}, ...}`` (fal wants the size as one object)."""
    params = image_parameters(call.args)
    width, height = params.pop("width", None), params.pop("height", None)
    if width is not None and height is not None:
        params["image_size"] = {"width": width, "height": height}
    return Payload(json={"prompt": call.args.prompt, **params})


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
)
