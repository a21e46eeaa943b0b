"""black-forest-labs: FLUX text-to-image as a polled job (removed from huggingface_hub 2026-07).

``POST /v1/{model}`` ``{"prompt", "width", "height", ...}`` -> ``{"id", "polling_url"}``; GET
``polling_url`` until ``{"status": "Ready", "result": {"sample": URL}}``; download ``sample``.
The polling URL is on BFL's own host, so the token does not go with it.
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
    Step,
    dig,
    download,
)
from hf_tools.providers.openai import image_done, image_parameters
from hf_tools.tasks._base import Payload
from hf_tools.tasks.text_to_image import TextToImageInput

PROVIDER = "black-forest-labs"
_RUNNING = frozenset({"Pending", "Queued", "Processing"})


def payload(call: Call[TextToImageInput]) -> Payload:
    """``{"prompt", ...}``; BFL calls the guidance scale ``guidance``."""
    params = image_parameters(call.args, {"guidance_scale": "guidance"})
    return Payload(json={"prompt": call.args.prompt, **params})


def state(body: Any, call: Call[Any]) -> JobState:
    """``Ready`` -> done; ``Pending``... -> running; anything else (Error, moderated) raises.

    The submit answer (``{"id", "polling_url"}``) has no status yet: running.
    """
    status = body.get("status") if isinstance(body, Mapping) else None
    if status is None:
        dig(body, call, "polling_url")
        return "running"
    if status == "Ready":
        return "done"
    if status in _RUNNING:
        return "running"
    detail = body.get("details") or body.get("result")
    msg = f"black-forest-labs job ended with status {status!r}" + (f": {detail}" if detail else "")
    raise call.job_failed(msg, body.get("id"))


def status_request(body: Any, call: Call[Any]) -> Request:
    """GET the ``polling_url`` the submit answer names."""
    return call.get(dig(body, call, "polling_url"))


def result(body: Any, call: Call[TextToImageInput]) -> Step:
    """``result.sample`` -> download the image."""
    return download(dig(body, call, "result", "sample"), call, lambda data: image_done(data, call))


ADAPTERS = (
    Adapter(
        provider=PROVIDER,
        task="text-to-image",
        route=lambda model: f"/v1/{model}",
        payload=payload,
        parse=Job(state=state, status_request=status_request, result=result).follow,
    ),
)
