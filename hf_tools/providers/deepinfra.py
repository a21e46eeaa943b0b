"""deepinfra: chat, completions and embeddings under ``/v1/openai``; speech in and out.

text-to-speech (from huggingface_hub's adapter; no recording): ``POST
/v1/openai/audio/speech`` ``{"input", "voice"?, "model"}`` answers the audio itself.

automatic-speech-recognition (huggingface_hub's adapter; no recording): ``POST
/v1/openai/audio/transcriptions``, OpenAI's multipart upload (the audio as ``file``, then the
``model`` field), answered ``{"text", "segments"?}``; segments become timed chunks.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hf_tools.mime import extension
from hf_tools.providers._base import Adapter, Call, Done, Step, dig
from hf_tools.providers._media import binary, speech_payload
from hf_tools.providers.openai import fixed, openai_adapters
from hf_tools.tasks import automatic_speech_recognition as asr
from hf_tools.tasks import text_to_speech
from hf_tools.tasks._base import Media, Payload

PROVIDER = "deepinfra"


def multipart(audio: Media, fields: dict[str, str]) -> Payload:
    """``multipart/form-data``: the audio as ``file`` (``audio.<ext>``), then ``fields``.

    The boundary is taken from a hash of the parts, so the same call is the same bytes
    (cassettes match bodies) and no part can contain it by chance.
    """
    digest = hashlib.sha256(audio.data)
    for key, value in fields.items():
        digest.update(f"{key}={value}".encode())
    boundary = "hf-tools-" + digest.hexdigest()[:32]
    filename = f"audio.{extension(audio.mime, 'wav')}"  # servers sniff the format from it
    parts = [
        f"--{boundary}".encode(),
        f'Content-Disposition: form-data; name="file"; filename="{filename}"'.encode(),
        f"Content-Type: {audio.mime}".encode(),
        b"",
        audio.data,
    ]
    for key, value in fields.items():
        parts += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{key}"'.encode(),
            b"",
            value.encode(),
        ]
    parts += [f"--{boundary}--".encode(), b""]
    return Payload(
        data=b"\r\n".join(parts), content_type=f"multipart/form-data; boundary={boundary}"
    )


def transcription_payload(call: Call[asr.AutomaticSpeechRecognitionInput]) -> Payload:
    """The audio and the provider's model; ``verbose_json`` (with segments) for timestamps."""
    # The model is the last field, as huggingface_hub sends it: nothing can override it.
    fields = {"response_format": "verbose_json"} if call.args.return_timestamps else {}
    return multipart(call.media["audio"], {**fields, "model": call.model})


def parse_transcription(body: Any, call: Call[asr.AutomaticSpeechRecognitionInput]) -> Step:
    """``{"text", "segments"?: [{text, start, end}]}`` -> the transcript (and timed chunks)."""
    text = dig(body, call, "text")
    segments = body.get("segments")
    chunks = None
    if call.args.return_timestamps and isinstance(segments, list):
        chunks = [
            {"text": s.get("text", ""), "timestamp": [s.get("start"), s.get("end")]}
            for s in segments
            if isinstance(s, dict)
        ]
    return Done(asr.parse({"text": text, "chunks": chunks}, call.args))


ADAPTERS = (
    *openai_adapters(
        PROVIDER,
        chat="/v1/openai/chat/completions",
        completions="/v1/openai/completions",
        embeddings="/v1/openai/embeddings",
    ),
    binary(
        PROVIDER,
        "text-to-speech",
        "/v1/openai/audio/speech",
        speech_payload,
        text_to_speech.read,
    ),
    Adapter(
        provider=PROVIDER,
        task="automatic-speech-recognition",
        route=fixed("/v1/openai/audio/transcriptions"),
        payload=transcription_payload,
        parse=parse_transcription,
    ),
)
