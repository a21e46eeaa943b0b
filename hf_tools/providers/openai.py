"""The OpenAI-compatible formats most providers speak, written once.

Chat completions (``conversational``, and ``image-text-to-text``: the same route with an
image part in the message), completions (``text-generation``), embeddings
(``feature-extraction``) and b64 image generations (``text-to-image``): builders, parsers, and
:func:`openai_adapters`, which a provider module calls with its own routes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hf_tools.providers._base import (
    Adapter,
    Call,
    Done,
    Step,
    decode_data_uri,
    dig,
    without_none,
)
from hf_tools.tasks import feature_extraction, image_text_to_text, text_to_image
from hf_tools.tasks._base import Payload
from hf_tools.tasks.conversational import ConversationalInput, ConversationalOutput
from hf_tools.tasks.feature_extraction import FeatureExtractionInput, FeatureExtractionOutput
from hf_tools.tasks.image_text_to_text import ImageTextToTextInput, ImageTextToTextOutput
from hf_tools.tasks.text_generation import TextGenerationInput, TextGenerationOutput
from hf_tools.tasks.text_to_image import TextToImageInput, TextToImageOutput

__all__ = [
    "b64_image_payload",
    "chat_payload",
    "completion_payload",
    "embeddings_payload",
    "fixed",
    "image_done",
    "image_parameters",
    "openai_adapters",
    "parse_b64_image",
    "parse_chat",
    "parse_completion",
    "parse_embeddings",
    "parse_vision",
    "vision_payload",
]

# text-generation Input field -> OpenAI completions name. TGI-only fields (do_sample,
# return_full_text, details) have no completions equivalent and are not sent.
_COMPLETION_FIELDS = {
    "max_new_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "repetition_penalty": "repetition_penalty",
    "stop": "stop",
    "seed": "seed",
}


def fixed(path: str) -> Callable[[str], str]:
    """A route that does not depend on the model id (the model goes in the body)."""
    return lambda model: path


def chat_payload(call: Call[ConversationalInput]) -> Payload:
    """``{"model", "messages"}``; the model first, so a router can route on a short prefix."""
    turns = [{"role": t.role, "content": t.content} for t in call.args.history or []]
    messages = [*turns, {"role": "user", "content": call.args.message}]
    return Payload(json={"model": call.model, "messages": messages})


def vision_payload(call: Call[ImageTextToTextInput]) -> Payload:
    """``{"model", "messages": [user: text + image_url], "max_tokens"?}``."""
    body = image_text_to_text.build(call.args, call.media).json
    return Payload(json={"model": call.model, **body})


def parse_vision(body: Any, call: Call[Any]) -> Step:
    """A chat completion -> the vision-language model's answer."""
    return Done(ImageTextToTextOutput.model_validate(_chat_reply(body, call).model_dump()))


def _text_of(content: Any) -> str:
    """Message content as text: a string, a list of parts, or null (tool calls only)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") if isinstance(p, Mapping) else str(p)
            for p in content
            if not isinstance(p, Mapping) or p.get("type", "text") == "text"
        )
    return ""


def _usage(body: Mapping[str, Any]) -> dict[str, int] | None:
    """OpenAI ``usage`` under the names the chat model reports (input/output/total tokens)."""
    usage = body.get("usage")
    if not isinstance(usage, Mapping):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    total = int(usage.get("total_tokens") or prompt + completion)
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": total}


def _chat_reply(body: Any, call: Call[Any]) -> ConversationalOutput:
    choice = dig(body, call, "choices", 0)
    message = dig(choice, call, "message")
    return ConversationalOutput(
        generated_text=_text_of(message.get("content") if isinstance(message, Mapping) else None),
        finish_reason=choice.get("finish_reason"),
        model=body.get("model"),
        usage=_usage(body),
    )


def parse_chat(body: Any, call: Call[ConversationalInput]) -> Step:
    """A chat completion -> the reply, why it stopped, the model, token usage."""
    return Done(_chat_reply(body, call))


def completion_payload(call: Call[TextGenerationInput]) -> Payload:
    """``{"model", "prompt", max_tokens?, temperature?, ...}`` from the text-generation Input."""
    values = {name: getattr(call.args, field) for field, name in _COMPLETION_FIELDS.items()}
    return Payload(json={"model": call.model, "prompt": call.args.prompt, **without_none(values)})


def parse_completion(body: Any, call: Call[TextGenerationInput]) -> Step:
    """``choices[0].text`` -> the generated text; finish reason (and seed) as ``details``."""
    choice = dig(body, call, "choices", 0)
    text = dig(choice, call, "text")
    if not isinstance(text, str):
        msg = "expected choices[0].text to be a string"
        raise call.format_error(msg)
    details = without_none(
        {"finish_reason": choice.get("finish_reason"), "seed": choice.get("seed")}
    )
    return Done(TextGenerationOutput(generated_text=text, details=details or None))


def embeddings_payload(call: Call[FeatureExtractionInput]) -> Payload:
    """``{"model", "input"}``; ``normalize``/``truncate`` have no OpenAI equivalent."""
    return Payload(json={"model": call.model, "input": call.args.texts})


def parse_embeddings(body: Any, call: Call[FeatureExtractionInput]) -> Step:
    """``data[].embedding`` (in ``index`` order) -> the task's vectors."""
    items = dig(body, call, "data")
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        msg = "expected data to be a list of objects"
        raise call.format_error(msg)
    ordered = sorted(items, key=lambda item: int(item.get("index") or 0))
    vectors = [dig(item, call, "embedding") for item in ordered]
    out: FeatureExtractionOutput = feature_extraction.parse(vectors, call.args)
    return Done(out)


def image_parameters(
    args: TextToImageInput, rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The text-to-image parameters that are set, under the provider's names."""
    names = rename or {}
    values = args.model_dump(exclude={"prompt"}, exclude_none=True)
    return {names.get(k, k): v for k, v in values.items() if names.get(k, k)}


def image_done(data: bytes, call: Call[TextToImageInput]) -> Step:
    """Image bytes -> the task's Output (type and size read from the header)."""
    out: TextToImageOutput = text_to_image.parse(data, call.args)
    return Done(out)


def parse_b64_image(*path: str | int) -> Callable[[Any, Call[TextToImageInput]], Step]:
    """A parser reading a base64 image at ``path`` of the response (``data[0].b64_json``)."""

    def parse(body: Any, call: Call[TextToImageInput]) -> Step:
        encoded = dig(body, call, *path)
        if not isinstance(encoded, str):
            msg = "expected the image as base64 text"
            raise call.format_error(msg)
        return image_done(decode_data_uri(encoded, call), call)

    return parse


def b64_image_payload(
    *,
    model_key: str = "model",
    response_format: str = "b64_json",
    rename: Mapping[str, str] | None = None,
    size_as_text: bool = False,
) -> Callable[[Call[TextToImageInput]], Payload]:
    """A text-to-image payload builder for an ``/images/generations`` style route.

    Args:
        model_key: where the provider model id goes (``model``; hyperbolic: ``model_name``).
        response_format: what asks for base64 (``b64_json``; together: ``base64``).
        rename: our parameter name -> the provider's; an empty name leaves it out.
        size_as_text: send ``width``/``height`` as ``size: "WxH"`` (nscale).
    """

    def payload(call: Call[TextToImageInput]) -> Payload:
        params = image_parameters(call.args, rename)
        if size_as_text:  # a lone width or height has no "WxH" form: left out
            width, height = params.pop("width", None), params.pop("height", None)
            if width is not None and height is not None:
                params["size"] = f"{width}x{height}"
        body = {"prompt": call.args.prompt, model_key: call.model}
        if response_format:
            body["response_format"] = response_format
        return Payload(json={**body, **params})

    return payload


def openai_adapters(
    provider: str,
    *,
    chat: str | None = None,
    completions: str | None = None,
    embeddings: str | None = None,
    images: str | None = None,
    image_payload: Callable[[Call[TextToImageInput]], Payload] | None = None,
) -> tuple[Adapter[Any], ...]:
    """The adapters of a provider speaking the OpenAI formats at the given routes.

    ``images`` is a b64 ``/images/generations`` route answering ``data[0].b64_json``; its
    body is ``image_payload`` (default: :func:`b64_image_payload` with OpenAI names).
    """
    served: list[tuple[str, str | None, Callable[[Any], Payload], Callable[[Any, Any], Step]]] = [
        ("conversational", chat, chat_payload, parse_chat),
        ("image-text-to-text", chat, vision_payload, parse_vision),
        ("text-generation", completions, completion_payload, parse_completion),
        ("feature-extraction", embeddings, embeddings_payload, parse_embeddings),
        (
            "text-to-image",
            images,
            image_payload or b64_image_payload(),
            parse_b64_image("data", 0, "b64_json"),
        ),
    ]
    return tuple(
        Adapter(provider=provider, task=task, route=fixed(path), payload=build, parse=parse)
        for task, path, build, parse in served
        if path
    )
