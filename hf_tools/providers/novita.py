"""novita: chat and completions under ``/v3/openai`` (there is no ``/v1`` route); text-to-video.

text-to-video (from huggingface_hub's adapter; no recording): ``POST /v3/hf/{model}``
``{"prompt", ...}`` -> ``{"video": {"video_url"}}``, then the video is downloaded.
"""

from __future__ import annotations

from hf_tools.providers._base import Adapter, Call
from hf_tools.providers._media import file_at
from hf_tools.providers.openai import openai_adapters
from hf_tools.tasks import text_to_video
from hf_tools.tasks._base import Payload
from hf_tools.tasks.text_to_video import TextToVideoInput

PROVIDER = "novita"


def video_payload(call: Call[TextToVideoInput]) -> Payload:
    """``{"prompt", ...parameters}``."""
    return Payload(json={"prompt": call.args.prompt, **text_to_video.parameters(call.args)})


ADAPTERS = (
    *openai_adapters(
        PROVIDER, chat="/v3/openai/chat/completions", completions="/v3/openai/completions"
    ),
    Adapter(
        provider=PROVIDER,
        task="text-to-video",
        route=lambda model: f"/v3/hf/{model}",
        payload=video_payload,
        parse=file_at(text_to_video.read, "video", "video_url"),
    ),
)
