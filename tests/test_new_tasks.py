"""The tasks InferenceClient has that hf-tools gained last: documents, tables, audio parts."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from hf_tools import HFClient, HuggingFaceToolkit, get_spec
from hf_tools.http import HFRequest
from hf_tools.media import resolve_media

from .conftest import FIXTURES, ROOT
from .test_provider_flow import tool_message

DOCUMENT = FIXTURES / "document.jpg"
AUDIO = FIXTURES / "audio.flac"
MODES = ["sync", "async"]


def _request(task: str, model: str | None = None, **args: Any) -> HFRequest:
    client = HFClient(api_key="hf_x", allowed_roots=[FIXTURES])
    spec = get_spec(task)
    inputs = client.validate(spec, args)
    media = {f: resolve_media(args[f], client.settings) for f in spec.media_fields if f in args}
    return client.prepare(spec, inputs, media, client.model_for(spec, model))


def _toolkit(token: str, task: str, model: str, **kw: Any) -> HuggingFaceToolkit:
    return HuggingFaceToolkit(
        api_key=token, tasks=[task], models={task: model}, allowed_roots=[FIXTURES, ROOT], **kw
    )


# --- document-question-answering ------------------------------------------------------------


def test_document_qa_sends_image_and_question_inside_inputs() -> None:
    request = _request("document-question-answering", image=str(DOCUMENT), question="Total?")
    body = json.loads(request.content)
    assert body["inputs"]["question"] == "Total?" and body["parameters"] == {}
    assert base64.b64decode(body["inputs"]["image"]) == DOCUMENT.read_bytes()
    with_k = _request(
        "document-question-answering", image=str(DOCUMENT), question="Total?", top_k=2, lang="fr"
    )
    assert json.loads(with_k.content)["parameters"] == {"top_k": 2, "lang": "fr"}
    schema = get_spec("document-question-answering").input_model.model_json_schema()
    assert sorted(schema["properties"]) == ["image", "question"]  # the knobs are Python-only


@pytest.mark.parametrize("mode", MODES)
def test_document_qa_generative_answer_has_no_score(token: str, cassette: Any, mode: str) -> None:
    toolkit = _toolkit(
        token, "document-question-answering", "naver-clova-ix/donut-base-finetuned-docvqa"
    )
    args = {"image": str(DOCUMENT), "question": "What is the purchase amount?"}
    with cassette("document-question-answering/success"):
        msg = tool_message(toolkit, "document_question_answering", args, mode)
    assert msg.content == "$1,0000,000,00"
    assert msg.artifact.answers[0].score is None


@pytest.mark.parametrize("mode", MODES)
def test_document_qa_extractive_answer_with_score_and_span(
    token: str, cassette: Any, mode: str
) -> None:
    toolkit = _toolkit(token, "document-question-answering", "impira/layoutlm-document-qa")
    args = {"image": str(DOCUMENT), "question": "What is the invoice number?"}
    with cassette("document-question-answering/layoutlm"):
        msg = tool_message(toolkit, "document_question_answering", args, mode)
    assert msg.content == "us-001 0.6035"
    assert (msg.artifact.answers[0].start, msg.artifact.answers[0].end) == (16, 16)


# --- tabular-classification / tabular-regression -------------------------------------------

WINE = get_spec("tabular-classification").example["table"]
FISH = get_spec("tabular-regression").example["table"]


def test_tabular_tables_go_as_a_column_map_under_inputs_data() -> None:
    body = json.loads(_request("tabular-classification", table=WINE).content)
    assert body == {"inputs": {"data": {c["column"]: c["cells"] for c in WINE}}}
    # Python callers may pass the map itself; numbers become the text cells the model reads.
    as_map = _request("tabular-regression", table={"Height": [11.52], "Species": ["Bream"]})
    assert json.loads(as_map.content)["inputs"]["data"] == {
        "Height": ["11.52"],
        "Species": ["Bream"],
    }


def test_tabular_schema_has_no_open_map() -> None:
    schema = get_spec("tabular-classification").input_model.model_json_schema()
    table = schema["properties"]["table"]
    assert table["type"] == "array" and table["items"]["required"] == ["column", "cells"]


def test_ragged_tables_are_refused_before_sending() -> None:
    client = HFClient(api_key="hf_x")
    with pytest.raises(ValueError, match="same number of cells"):
        client.validate(
            get_spec("tabular-regression"),
            {"table": [{"column": "a", "cells": ["1"]}, {"column": "b", "cells": []}]},
        )


@pytest.mark.parametrize("mode", MODES)
def test_tabular_classification_one_label_per_row(token: str, cassette: Any, mode: str) -> None:
    toolkit = _toolkit(token, "tabular-classification", "vvmnnnkv/wine-quality")
    with cassette("tabular-classification/success"):
        msg = tool_message(toolkit, "tabular_classification", {"table": WINE}, mode)
    assert msg.content == "row 1: 5; row 2: 5; row 3: 7"
    assert msg.artifact.labels == ["5", "5", "7"]


@pytest.mark.parametrize("mode", MODES)
def test_tabular_regression_one_value_per_row(token: str, cassette: Any, mode: str) -> None:
    toolkit = _toolkit(token, "tabular-regression", "scikit-learn/Fish-Weight")
    with cassette("tabular-regression/success"):
        msg = tool_message(toolkit, "tabular_regression", {"table": FISH}, mode)
    assert msg.content == "row 1: 110; row 2: 120; row 3: 130"
    assert msg.artifact.values == [110.0, 120.0, 130.0]


def test_tabular_answers_of_another_shape_are_format_errors() -> None:
    from hf_tools import ResponseFormatError

    spec = get_spec("tabular-regression")
    args = spec.input_model.model_validate({"table": FISH})
    assert spec.hf_inference is not None
    assert spec.hf_inference.parse([[1, 2.5, 3]], args).values == [1.0, 2.5, 3.0]
    # not one value per row (FISH has 3): an embedding is a list of numbers too
    for body in ({"error": "x"}, [{"label": "a"}], [True], ["many"], [1.0, 2.0], [0.1] * 768):
        with pytest.raises(ResponseFormatError):
            spec.hf_inference.parse(body, args)


# --- audio-to-audio -------------------------------------------------------------------------


def test_audio_to_audio_sends_the_audio_raw() -> None:
    request = _request("audio-to-audio", audio=str(AUDIO))
    assert request.content == AUDIO.read_bytes()
    assert request.headers["content-type"] == "audio/flac"


@pytest.mark.parametrize("mode", MODES)
def test_audio_parts_are_saved_and_never_in_content(
    token: str, cassette: Any, mode: str, tmp_path: Any
) -> None:
    toolkit = _toolkit(token, "audio-to-audio", "speechbrain/sepformer-wham", output_dir=tmp_path)
    with cassette("audio-to-audio/success"):
        msg = tool_message(toolkit, "audio_to_audio", {"audio": str(AUDIO)}, mode)
    parts = msg.artifact.parts
    assert [p.label for p in parts] == ["label_0", "label_1"]
    assert all(p.mime == "audio/flac" and p.audio.startswith(b"fLaC") for p in parts)
    saved = sorted(tmp_path.iterdir())
    assert len(saved) == 2 and {p.path for p in parts} == set(saved)
    assert {p.read_bytes() for p in saved} == {p.audio for p in parts}
    content = str(msg.content)
    assert content.startswith("2 audio parts: label_0 (FLAC, ")
    assert str(parts[1].path) in content and len(content) < 400


def test_audio_parts_of_another_kind_are_format_errors() -> None:
    from hf_tools import ResponseFormatError

    spec = get_spec("audio-to-audio")
    args = spec.input_model.model_validate({"audio": str(AUDIO)})
    assert spec.hf_inference is not None
    png = base64.b64encode((FIXTURES / "small.png").read_bytes()).decode()
    for body in ([{"label": "x", "blob": png}], [{"label": "x"}], [{"blob": "%%%"}], "text"):
        with pytest.raises(ResponseFormatError):
            spec.hf_inference.parse(body, args)


# --- provider pairs InferenceClient has: hf-inference speech and image edits, deepinfra ASR --


@pytest.mark.parametrize("mode", MODES)
def test_hf_inference_speaks_a_named_text_to_speech_model(
    token: str, cassette: Any, mode: str, sent: list[HFRequest]
) -> None:
    toolkit = _toolkit(
        token, "text-to-speech", "espnet/kan-bayashi_ljspeech_vits", provider="hf-inference"
    )
    with cassette("text-to-speech/hf-inference") as tape:
        msg = tool_message(toolkit, "text_to_speech", {"text": "Hello world"}, mode)
    assert msg.status == "success", msg.content
    assert [r.url for r in sent] == [
        "https://router.huggingface.co/hf-inference/models/espnet/kan-bayashi_ljspeech_vits"
    ]
    assert json.loads(sent[0].content) == {"inputs": "Hello world", "parameters": {}}
    assert msg.artifact.audio == tape.responses[0]["body"]["string"]
    assert msg.artifact.mime == "audio/flac"
    assert str(msg.content).startswith("Generated FLAC speech, 52 KB")


@pytest.mark.parametrize("mode", MODES)
def test_hf_inference_edits_an_image_with_a_named_model(
    token: str, cassette: Any, mode: str, sent: list[HFRequest]
) -> None:
    toolkit = _toolkit(
        token, "image-to-image", "lllyasviel/sd-controlnet-depth", provider="hf-inference"
    )
    args = {"image": str(FIXTURES / "small.png"), "prompt": "Turn the cat into a tiger."}
    with cassette("image-to-image/hf-inference"):
        msg = tool_message(toolkit, "image_to_image", args | {"seed": 7}, mode)
    assert msg.status == "success", msg.content
    body = json.loads(sent[0].content)
    # huggingface_hub's binary-input wire: base64 image, the spec's parameters (no seed).
    assert body == {
        "inputs": base64.b64encode((FIXTURES / "small.png").read_bytes()).decode(),
        "parameters": {"prompt": "Turn the cat into a tiger."},
    }
    assert msg.artifact.mime == "image/jpeg" and (msg.artifact.width, msg.artifact.height) == (
        256,
        256,
    )


def _hub_multipart(audio: Path, model: str) -> tuple[bytes, str]:
    from huggingface_hub.hf_api import InferenceProviderMapping
    from huggingface_hub.inference._providers import PROVIDERS

    helper = PROVIDERS["deepinfra"]["automatic-speech-recognition"]
    mapping = InferenceProviderMapping(
        provider="deepinfra",
        hf_model_id=model,
        providerId=model,
        status="live",
        task="automatic-speech-recognition",
    )
    payload = helper._prepare_payload_as_bytes(audio, {}, mapping, None)
    assert payload is not None
    return bytes(payload), str(payload.mime_type)


def test_deepinfra_transcription_is_huggingface_hubs_multipart() -> None:
    from hf_tools.providers import Call, get_adapter

    spec = get_spec("automatic-speech-recognition")
    adapter = get_adapter("deepinfra", "automatic-speech-recognition")
    call = Call(
        task=spec.task,
        provider="deepinfra",
        model="openai/whisper-large-v3",
        args=spec.input_model.model_validate({"audio": str(AUDIO)}),
        media={"audio": resolve_media(str(AUDIO), HFClient(api_key="hf_x").settings)},
    )
    ours = adapter.payload(call)
    theirs, their_type = _hub_multipart(AUDIO, "openai/whisper-large-v3")
    assert ours.data is not None and ours.content_type is not None
    # Byte for byte but for the boundary (theirs is random, ours a hash of the parts).
    boundary, their_boundary = (t.split("boundary=")[1] for t in (ours.content_type, their_type))
    assert ours.data == theirs.replace(their_boundary.encode(), boundary.encode())
    assert (
        adapter.url(call)
        == "https://router.huggingface.co/deepinfra/v1/openai/audio/transcriptions"
    )


@pytest.mark.parametrize("mode", MODES)
def test_deepinfra_transcribes_with_timed_chunks(token: str, mode: str, tmp_path: Any) -> None:
    from hf_tools.testing import use_cassette

    from .test_provider_flow import hub, interactions

    model = "openai/whisper-large-v3"
    mapping = hub(model, ("deepinfra", model, "live", "automatic-speech-recognition"))
    flow = [mapping, *interactions("automatic-speech-recognition/deepinfra-whisper.yaml")]
    import yaml

    (tmp_path / "flow.yaml").write_text(yaml.safe_dump({"interactions": flow, "version": 1}))
    toolkit = _toolkit(token, "automatic-speech-recognition", model, provider="deepinfra")
    args = {"audio": str(AUDIO), "return_timestamps": True}
    with use_cassette("flow.yaml", library_dir=tmp_path, record_mode="none") as tape:
        msg = tool_message(toolkit, "automatic_speech_recognition", args, mode)
    assert tape.all_played and msg.status == "success", msg.content
    assert msg.content == "A man said to the universe, sir, I exist."
    assert msg.artifact.chunks[0].timestamp == [0.0, 2.9]


# --- image-text-to-text ---------------------------------------------------------------------

VLM = "Qwen/Qwen2.5-VL-7B-Instruct"
IMAGE = FIXTURES / "image.png"


def test_vision_question_is_a_chat_message_with_a_text_and_an_image_part() -> None:
    request = _request("image-text-to-text", model=VLM, image=str(IMAGE), question="What?")
    body = json.loads(request.content)
    assert request.url == "https://router.huggingface.co/v1/chat/completions"
    assert list(body) == ["model", "messages"] and body["model"] == VLM
    text, image = body["messages"][0]["content"]
    assert text == {"type": "text", "text": "What?"}
    url = image["image_url"]["url"]
    assert image["type"] == "image_url" and url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == IMAGE.read_bytes()


@pytest.mark.parametrize("mode", MODES)
def test_vision_language_model_answers_from_the_router(
    token: str, cassette: Any, mode: str
) -> None:
    toolkit = _toolkit(token, "image-text-to-text", VLM)
    args = {"image": str(IMAGE), "question": "What is in this image?"}
    with cassette("image-text-to-text/success"):
        msg = tool_message(toolkit, "image_text_to_text", args, mode)
    assert msg.content == "A woman wearing a wide-brimmed hat, photographed outdoors."
    assert msg.artifact.usage == {"input_tokens": 1213, "output_tokens": 14, "total_tokens": 1227}


@pytest.mark.parametrize("mode", MODES)
def test_vision_language_model_on_a_provider_its_hub_mapping_names(
    token: str, mode: str, tmp_path: Path, sent: list[HFRequest]
) -> None:
    # The Hub maps a VLM under "conversational": the provider's chat route serves it.
    import yaml

    from hf_tools.providers import Call, get_adapter
    from hf_tools.testing import use_cassette

    from .test_provider_flow import exchange, hub, interactions

    spec = get_spec("image-text-to-text")
    args = {"image": str(IMAGE), "question": "What is in this image?"}
    call = Call(
        task=spec.task,
        provider="nebius",
        model="Qwen/Qwen2.5-VL-7B-Instruct-fast",
        args=spec.input_model.model_validate(args),
        media={"image": resolve_media(str(IMAGE), HFClient(api_key="hf_x").settings)},
    )
    body = get_adapter("nebius", spec.task).payload(call).json
    answer = interactions("image-text-to-text/success.yaml")[0]["response"]["body"]["string"]
    flow = [
        hub(VLM, ("nebius", "Qwen/Qwen2.5-VL-7B-Instruct-fast", "live", "conversational")),
        exchange(
            "POST",
            "https://router.huggingface.co/nebius/v1/chat/completions",
            body,
            answer=json.loads(answer),
        ),
    ]
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump({"interactions": flow, "version": 1}))
    toolkit = _toolkit(token, "image-text-to-text", VLM, provider="nebius")
    with use_cassette("flow.yaml", library_dir=tmp_path, record_mode="none") as tape:
        msg = tool_message(toolkit, "image_text_to_text", args, mode)
    assert tape.all_played and msg.status == "success", msg.content
    assert msg.content == "A woman wearing a wide-brimmed hat, photographed outdoors."
    assert json.loads(sent[-1].content)["model"] == "Qwen/Qwen2.5-VL-7B-Instruct-fast"


# --- images in HFChatModel messages ---------------------------------------------------------


def _chat_answer(body: dict[str, Any]) -> Any:
    import httpx2

    answer = {"choices": [{"message": {"role": "assistant", "content": "A hat."}}]}
    return httpx2.Response(200, json=answer)


def _image_message(*images: dict[str, Any]) -> Any:
    from langchain_core.messages import HumanMessage

    return HumanMessage(content=[{"type": "text", "text": "What is this?"}, *images])


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream"])
def test_chat_model_inlines_local_image_files_and_passes_urls_as_given(mode: str) -> None:
    import asyncio

    from .test_chat import _served

    bodies: list[dict[str, Any]] = []
    responder = _chat_answer
    if mode == "stream":
        from .test_chat import _delta, _sse

        def responder(body: dict[str, Any]) -> Any:
            return _sse(_delta({"role": "assistant", "content": "A hat."}, "stop"), "[DONE]")

    llm = _served(responder, bodies, allowed_roots=[FIXTURES])
    message = _image_message(
        {"type": "image", "url": str(FIXTURES / "small.png")},
        {"type": "image_url", "image_url": {"url": "tests/fixtures/image.png"}},
        {"type": "image", "url": "https://example.com/cat.png"},
    )
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)  # the OpenAI part names its file relative to the project
    try:
        if mode == "invoke":
            reply = llm.invoke([message]).content
        elif mode == "ainvoke":
            reply = asyncio.run(llm.ainvoke([message])).content
        else:
            reply = "".join(str(c.content) for c in llm.stream([message]))
    finally:
        os.chdir(cwd)
    assert reply == "A hat."
    parts = bodies[0]["messages"][0]["content"]
    urls = [p["image_url"]["url"] for p in parts[1:]]
    small = base64.b64encode((FIXTURES / "small.png").read_bytes()).decode()
    image = base64.b64encode(IMAGE.read_bytes()).decode()
    assert urls == [
        f"data:image/png;base64,{small}",
        f"data:image/png;base64,{image}",
        "https://example.com/cat.png",
    ]


def test_chat_model_refuses_image_files_outside_its_roots_before_sending(
    tmp_path: Path,
) -> None:
    from hf_tools import MediaError

    from .test_chat import _served

    bodies: list[dict[str, Any]] = []
    llm = _served(_chat_answer, bodies, allowed_roots=[tmp_path])
    with pytest.raises(MediaError, match="file not found"):
        llm.invoke([_image_message({"type": "image", "url": str(IMAGE)})])
    assert bodies == []
