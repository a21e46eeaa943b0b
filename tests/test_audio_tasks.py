"""Audio tasks: wire format, parsed output and the transcript the LLM reads."""

from __future__ import annotations

import base64
import json
from typing import Any

from langchain_core.messages import ToolMessage

from hf_tools import HFClient, HuggingFaceToolkit, get_spec
from hf_tools.media import resolve_media

from .conftest import FIXTURES

AUDIO = FIXTURES / "audio.flac"


def _call(toolkit: HuggingFaceToolkit, name: str, **args: Any) -> ToolMessage:
    msg = toolkit.get_tool(name).invoke(
        {"name": name, "args": args, "id": "1", "type": "tool_call"}
    )
    assert isinstance(msg, ToolMessage)
    return msg


def test_audio_goes_raw_then_base64_with_parameters() -> None:
    client = HFClient(api_key="hf_x", allowed_roots=[FIXTURES])
    spec = get_spec("automatic-speech-recognition")
    media = {"audio": resolve_media(str(AUDIO), client.settings)}
    raw = client.prepare(
        spec, client.validate(spec, {"audio": str(AUDIO)}), media, spec.default_model
    )
    assert raw.headers["content-type"] == "audio/flac" and raw.content == AUDIO.read_bytes()
    args = {"audio": str(AUDIO), "return_timestamps": True}
    timed = client.prepare(spec, client.validate(spec, args), media, spec.default_model)
    body = json.loads(timed.content)
    assert body["parameters"] == {"return_timestamps": True}
    assert base64.b64decode(body["inputs"]) == AUDIO.read_bytes()


def test_transcript_is_the_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("automatic-speech-recognition/success"):
        msg = _call(toolkit, "automatic_speech_recognition", audio="tests/fixtures/audio.flac")
    assert msg.content == "a man said to the universe sir i exist"


def test_timestamps_stay_in_the_artifact() -> None:
    spec = get_spec("automatic-speech-recognition")
    data = {"text": "hi there", "chunks": [{"text": "hi", "timestamp": [0.0, 0.4]}]}
    out = spec.hf_inference.parse(data, spec.input_model(audio="x"))
    assert spec.render(out) == "hi there"
    assert out.chunks[0].timestamp == [0.0, 0.4]


def test_audio_classification_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("audio-classification/success"):
        msg = _call(toolkit, "audio_classification", audio="tests/fixtures/audio.flac")
    assert msg.content == "male 0.9987, female 0.0013"


def test_a_text_file_is_refused_as_audio(toolkit: HuggingFaceToolkit, sent: list[Any]) -> None:
    msg = _call(toolkit, "automatic_speech_recognition", audio="pyproject.toml")
    assert msg.status == "error" and "not a recognized image or audio file" in str(msg.content)
    assert sent == []
