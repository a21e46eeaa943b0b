"""replicate: predictions, answered at once (``Prefer: wait``) or polled until done.

``POST /v1/models/{owner}/{name}/predictions`` ``{"input": {...}}``, or, for an id pinned to
a version (``owner/name:version``), ``POST /v1/predictions`` ``{"input", "version"}``. Any
other root key is refused with 422 (recorded). The 201 answer is the prediction: when its
``output`` is set (recorded: status ``processing`` with the output URL already there) the
result is read from it; otherwise ``GET /v1/predictions/{id}`` is polled through the router
until ``succeeded`` / ``failed`` / ``canceled``.

Speech (``{"input": {"text", "voice"?}}``, recorded: kokoro-82m, oute-tts), video (``{"input":
{"prompt", ...}}``, recorded: mochi-1) and image edits (the image as a data URI under the four
keys replicate's models use, from huggingface_hub's adapter) answer an ``output`` URL too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from hf_tools.errors import excerpt
from hf_tools.providers._base import (
    Adapter,
    Call,
    Done,
    Job,
    JobState,
    Request,
    Step,
    dig,
    download,
)
from hf_tools.providers._media import Parse, data_uri, parsed, read_image
from hf_tools.providers.openai import image_parameters
from hf_tools.tasks import automatic_speech_recognition as asr
from hf_tools.tasks import image_to_image, text_to_speech, text_to_video
from hf_tools.tasks._base import Payload
from hf_tools.tasks.automatic_speech_recognition import AutomaticSpeechRecognitionInput
from hf_tools.tasks.image_to_image import ImageToImageInput
from hf_tools.tasks.text_to_image import TextToImageInput
from hf_tools.tasks.text_to_speech import TextToSpeechInput
from hf_tools.tasks.text_to_video import TextToVideoInput

PROVIDER = "replicate"
_RUNNING = frozenset({"starting", "processing"})


def route(model: str) -> str:
    """``/v1/predictions`` for ``owner/name:version``, else the model's predictions route."""
    return "/v1/predictions" if ":" in model else f"/v1/models/{model}/predictions"


def prediction(inputs: Mapping[str, Any], model: str) -> Payload:
    """``{"input": inputs}``, plus ``version`` when the model id pins one."""
    body: dict[str, Any] = {"input": dict(inputs)}
    if ":" in model:
        body["version"] = model.split(":", 1)[1]
    return Payload(json=body)


def state(body: Any, call: Call[Any]) -> JobState:
    """A prediction -> running or done; failed and canceled ones raise with replicate's words."""
    status = dig(body, call, "status")
    job_id = body.get("id")
    if status == "failed":
        msg = f"replicate prediction failed: {body.get('error') or 'no reason given'}"
        raise call.job_failed(msg, job_id)
    if status == "canceled":
        msg = f"replicate prediction was canceled: {body.get('error') or 'no reason given'}"
        raise call.job_failed(msg, job_id, cancelled=True)
    if status == "succeeded" or body.get("output") is not None:
        return "done"
    if status in _RUNNING:
        return "running"
    msg = f"unknown prediction status {status!r}"
    raise call.format_error(msg)


def status_request(body: Any, call: Call[Any]) -> Request:
    """``GET {router}/replicate/v1/predictions/{id}`` (``urls.get``, seen through the router)."""
    return call.get(f"{call.base}/v1/predictions/{dig(body, call, 'id')}")


def cancel_request(body: Any, call: Call[Any]) -> Request:
    """``POST {router}/replicate/v1/predictions/{id}/cancel`` (``urls.cancel``)."""
    return Request("POST", f"{call.base}/v1/predictions/{dig(body, call, 'id')}/cancel")


def first_output(output: Any) -> Any:
    """The first output item: replicate answers one URL, or a list of them."""
    return output[0] if isinstance(output, list) and output else output


def _job(result: Callable[[Any, Call[Any]], Step]) -> Job:
    return Job(
        state=state,
        status_request=status_request,
        result=result,
        interval=1.0,
        cancel_request=cancel_request,
    )


def _adapter(task: str, payload: Callable[[Call[Any]], Payload], job: Job) -> Adapter[BaseModel]:
    return Adapter(
        provider=PROVIDER,
        task=task,
        route=route,
        payload=payload,
        parse=job.follow,
        headers={"Prefer": "wait"},
    )


def text_to_image_payload(call: Call[TextToImageInput]) -> Payload:
    """``{"input": {"prompt", ...parameters, "lora_weights"?}}``; our parameter names.

    A LoRA model adds its Hub repo URL as ``lora_weights`` (as huggingface_hub sends it).
    """
    lora = {"lora_weights": call.lora.repo_url} if call.lora is not None else {}
    inputs = {"prompt": call.args.prompt, **image_parameters(call.args), **lora}
    return prediction(inputs, call.model)


def asr_payload(call: Call[AutomaticSpeechRecognitionInput]) -> Payload:
    """``{"input": {"audio": data URI}}``."""
    audio = call.media["audio"]
    return prediction({"audio": f"data:{audio.mime};base64,{audio.b64()}"}, call.model)


def asr_result(body: Any, call: Call[AutomaticSpeechRecognitionInput]) -> Step:
    """Text, ``[text]``, ``{transcription}``, ``{translation}`` or a ``txt_file`` URL."""
    output = first_output(body.get("output"))
    if isinstance(output, Mapping):
        text = output.get("translation") or output.get("transcription")
        if text is None and output.get("txt_file"):
            return download(output["txt_file"], call, lambda data: _transcript(data, call))
        output = text
    if not isinstance(output, str):
        msg = f"expected a transcript, got {excerpt(str(output), 80)!r}"
        raise call.format_error(msg)
    return Done(asr.parse({"text": output}, call.args))


def _transcript(data: bytes, call: Call[AutomaticSpeechRecognitionInput]) -> Step:
    return Done(asr.parse({"text": data.decode("utf-8", errors="replace")}, call.args))


def output_file(parse: Parse) -> Callable[[Any, Call[Any]], Step]:
    """The output URL (or the first of several) -> download it, ``parse`` the bytes."""

    def result(body: Any, call: Call[Any]) -> Step:
        return download(first_output(body.get("output")), call, parsed(parse, call))

    return result


def speech_payload(call: Call[TextToSpeechInput]) -> Payload:
    """``{"input": {"text", "voice"?}}``."""
    inputs = {"text": call.args.text, **text_to_speech.parameters(call.args)}
    return prediction(inputs, call.model)


def video_payload(call: Call[TextToVideoInput]) -> Payload:
    """``{"input": {"prompt", ...parameters}}`` (recorded with mochi-1's own names)."""
    inputs = {"prompt": call.args.prompt, **text_to_video.parameters(call.args)}
    return prediction(inputs, call.model)


def image_to_image_payload(call: Call[ImageToImageInput]) -> Payload:
    """The image under ``image``, ``images``, ``input_image``, ``input_images``, + the prompt.

    Replicate's image models each read one of those keys and ignore the others.
    """
    image = data_uri(call.media["image"])
    keys = {"image": image, "images": [image], "input_image": image, "input_images": [image]}
    return prediction({**keys, **image_to_image.parameters(call.args)}, call.model)


ADAPTERS = (
    _adapter("text-to-image", text_to_image_payload, _job(output_file(read_image))),
    _adapter("automatic-speech-recognition", asr_payload, _job(asr_result)),
    _adapter("text-to-speech", speech_payload, _job(output_file(text_to_speech.read))),
    _adapter("text-to-video", video_payload, _job(output_file(text_to_video.read))),
    _adapter("image-to-image", image_to_image_payload, _job(output_file(image_to_image.read))),
)
