"""Image tasks: the raw-bytes vs base64-JSON wire rule, parsed output, the LLM's text."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from hf_tools import (
    AsyncHFClient,
    HFClient,
    HuggingFaceToolkit,
    ResponseFormatError,
    get_spec,
    make_tool,
)
from hf_tools.artifacts import binary_parts
from hf_tools.http import HFRequest

from .conftest import FIXTURES

IMAGE = FIXTURES / "image.png"
QUESTION = "Who's in the picture?"


def _request(task: str, **args: Any) -> HFRequest:
    client = HFClient(api_key="hf_x", allowed_roots=[FIXTURES])
    spec = get_spec(task)
    inputs = client.validate(spec, args)
    from hf_tools.media import resolve_media

    media = {"image": resolve_media(args["image"], client.settings)}
    return client.prepare(spec, inputs, media, client.model_for(spec))


def test_no_parameters_sends_raw_bytes_with_their_type() -> None:
    request = _request("image-classification", image=str(IMAGE))
    assert request.content == IMAGE.read_bytes()
    assert request.headers["content-type"] == "image/png"
    assert request.url.endswith("/models/google/vit-base-patch16-224")


def test_parameters_switch_to_base64_json() -> None:
    request = _request("object-detection", image=str(IMAGE), threshold=0.9)
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body["parameters"] == {"threshold": 0.9}
    assert base64.b64decode(body["inputs"]) == IMAGE.read_bytes()


def _call(toolkit: HuggingFaceToolkit, name: str, **args: Any) -> ToolMessage:
    msg = toolkit.get_tool(name).invoke(
        {"name": name, "args": args, "id": "1", "type": "tool_call"}
    )
    assert isinstance(msg, ToolMessage)
    return msg


def test_image_classification_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("image-classification/success"):
        msg = _call(toolkit, "image_classification", image="tests/fixtures/image.png")
    assert str(msg.content).startswith("brassiere, bra, bandeau 0.1177, sombrero 0.0957")


def test_object_detection_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("object-detection/success"):
        msg = _call(toolkit, "object_detection", image="tests/fixtures/image.png")
    assert str(msg.content).splitlines()[0] == "person 0.9487 [59,39,420,510]"
    assert msg.artifact.detections[0].box.xmax == 420


def test_refused_image_never_reaches_the_service(
    toolkit: HuggingFaceToolkit, sent: list[HFRequest]
) -> None:
    msg = _call(toolkit, "image_classification", image="/etc/passwd")
    assert msg.status == "error"
    assert "outside the folders this tool may read" in str(msg.content)
    text = _call(toolkit, "image_classification", image="README.md")
    assert "not a recognized image or audio file" in str(text.content)
    assert sent == []


def _gray_png(rows: list[bytes]) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    width, height = len(rows[0]), len(rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_mask_coverage() -> None:
    from hf_tools.tasks.image_segmentation import mask_coverage

    assert mask_coverage(_gray_png([b"\xff\x00", b"\x00\x00"])) == 0.25
    assert mask_coverage(_gray_png([b"\xff\xff", b"\xff\xff"])) == 1.0
    assert mask_coverage(b"not a png") is None


def test_segmentation_masks_stay_out_of_content(token: str, cassette: Any, tmp_path: Any) -> None:
    toolkit = HuggingFaceToolkit(api_key=token, output_dir=tmp_path, allowed_roots=[FIXTURES])
    with cassette("image-segmentation/success"):
        msg = _call(toolkit, "image_segmentation", image=str(IMAGE))
    lines = str(msg.content).splitlines()
    assert lines[0].startswith("person 0.9938, covers 50.8%, mask saved to ")
    assert lines[-1] == "(masks are PNG images in the artifact)"
    assert "iVBOR" not in str(msg.content) and len(str(msg.content)) < 500
    saved = sorted(tmp_path.iterdir())
    # Content-addressed: a later call's masks never overwrite these.
    assert {p.name for p in saved} == {p.name for p in binary_parts(msg.artifact)}
    assert all(re.fullmatch(r"mask_[0-9a-f]{16}\.png", p.name) for p in saved)
    assert msg.artifact.segments[0].path.read_bytes() == msg.artifact.segments[0].mask
    assert saved[0].read_bytes().startswith(b"\x89PNG")


def test_image_to_text_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("image-to-text/success"):
        msg = _call(toolkit, "image_to_text", image="tests/fixtures/image.png")
    assert msg.content == "a woman in a hat and dress posing for a photo"


# --- visual-question-answering -------------------------------------------------------------


def test_vqa_is_always_json_with_image_and_question_inside_inputs() -> None:
    request = _request("visual-question-answering", image=str(IMAGE), question="Who?")
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert set(body) == {"inputs"}  # no parameters unless set
    assert body["inputs"]["question"] == "Who?"
    assert base64.b64decode(body["inputs"]["image"]) == IMAGE.read_bytes()
    with_k = _request("visual-question-answering", image=str(IMAGE), question="Who?", top_k=2)
    assert json.loads(with_k.content)["parameters"] == {"top_k": 2}


VQA_CONTENT = "woman 0.9387, girl 0.3431, lady 0.0841, female 0.0508, man 0.0178"


def test_vqa_answers_best_first(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("visual-question-answering/success"):
        msg = _call(toolkit, "visual_question_answering", image=str(IMAGE), question=QUESTION)
    assert msg.content == VQA_CONTENT
    assert [a.answer for a in msg.artifact.answers][:2] == ["woman", "girl"]


async def test_vqa_async_with_a_data_uri(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    # A data URI carries the same bytes as the file, so the same recorded request matches.
    data_uri = "data:image/png;base64," + base64.b64encode(IMAGE.read_bytes()).decode()
    tool = toolkit.get_tool("visual_question_answering")
    call = {"image": data_uri, "question": QUESTION}
    with cassette("visual-question-answering/success"):
        msg = await tool.ainvoke({"name": tool.name, "args": call, "id": "1", "type": "tool_call"})
    assert isinstance(msg, ToolMessage) and msg.content == VQA_CONTENT
    assert msg.artifact.answers[0].score > 0.9


async def test_vqa_image_url_download_and_inference_replayed(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    url = "https://images.example.com/woman-in-hat.png"
    with cassette("visual-question-answering/image-url") as tape:
        msg = _call(toolkit, "visual_question_answering", image=url, question=QUESTION)
    assert msg.content == VQA_CONTENT
    assert tape.play_count == 2  # the GET of the image, then the inference POST
    tool = toolkit.get_tool("visual_question_answering")
    with cassette("visual-question-answering/image-url"):
        amsg = await tool.ainvoke(
            {"name": tool.name, "args": {"image": url, "question": QUESTION}, "id": "2"}
            | {"type": "tool_call"}
        )
    assert amsg.content == VQA_CONTENT


@pytest.mark.parametrize(
    ("image", "refusal"),
    [
        ("http://127.0.0.1/x.png", "private, loopback or link-local"),
        ("file:///etc/passwd", "only http(s) URLs"),
        (base64.b64encode(b"plain text, not an image").decode(), "not a recognized image"),
        (base64.b64encode(IMAGE.read_bytes()).decode(), "the limit is 1000"),
    ],
)
def test_refused_vqa_images_send_nothing(
    token: str, sent: list[HFRequest], image: str, refusal: str
) -> None:
    client = HFClient(api_key=token, allowed_roots=[FIXTURES], max_media_bytes=1000)
    tool = make_tool(get_spec("visual-question-answering"), client, AsyncHFClient(api_key=token))
    msg = tool.invoke(
        {"name": tool.name, "args": {"image": image, "question": "?"}, "id": "1"}
        | {"type": "tool_call"}
    )
    assert msg.status == "error" and refusal in str(msg.content)
    assert sent == []


# --- zero-shot-image-classification ---------------------------------------------------------

LABELS = ["tree", "woman", "cat"]


def test_zero_shot_image_is_json_and_takes_comma_separated_labels() -> None:
    listed = _request("zero-shot-image-classification", image=str(IMAGE), candidate_labels=LABELS)
    body = json.loads(listed.content)
    assert listed.headers["content-type"] == "application/json"
    assert body["parameters"] == {"candidate_labels": LABELS}
    assert base64.b64decode(body["inputs"]) == IMAGE.read_bytes()
    joined = _request(
        "zero-shot-image-classification", image=str(IMAGE), candidate_labels="tree, woman,cat"
    )
    assert joined.content == listed.content


def test_zero_shot_image_content(toolkit: HuggingFaceToolkit, cassette: Any) -> None:
    with cassette("zero-shot-image-classification/success"):
        msg = _call(
            toolkit, "zero_shot_image_classification", image=str(IMAGE), candidate_labels=LABELS
        )
    assert msg.content == "woman 0.9986, cat 0.0012, tree 0.0002"
    assert msg.artifact.labels[0].label == "woman"


async def test_python_callers_pass_bytes_or_base64(token: str, cassette: Any) -> None:
    data = IMAGE.read_bytes()
    with cassette("zero-shot-image-classification/success", allow_playback_repeats=True):
        with HFClient(api_key=token) as client:
            out = client.run("zero-shot-image-classification", image=data, candidate_labels=LABELS)
        aout = await AsyncHFClient(api_key=token).run(
            "zero-shot-image-classification",
            image=base64.b64encode(data).decode(),
            candidate_labels=LABELS,
        )
    assert out == aout
    assert [lab.label for lab in out.labels] == ["woman", "cat", "tree"]


# --- text-to-image --------------------------------------------------------------------------

PROMPT = "An astronaut riding a horse on the moon."


def test_text_to_image_request() -> None:
    client = HFClient(api_key="hf_x")
    spec = get_spec("text-to-image")
    args = {"prompt": PROMPT, "width": 256, "height": 256}
    request = client.prepare(spec, client.validate(spec, args), {}, client.model_for(spec))
    assert request.headers["accept"] == "image/png"
    assert json.loads(request.content) == {
        "inputs": PROMPT,
        "parameters": {"width": 256, "height": 256},
    }


def test_text_to_image_content_never_holds_the_image(
    toolkit: HuggingFaceToolkit, cassette: Any
) -> None:
    with cassette("text-to-image/success"):
        msg = _call(toolkit, "text_to_image", prompt=PROMPT)
    assert msg.content == "Generated a JPEG image, 512x512, 25 KB"
    out = msg.artifact
    assert out.mime == "image/jpeg" and out.image.startswith(b"\xff\xd8")
    assert len(out.image) == 26062 and out.path is None
    assert "image=" not in repr(out) and "/9j/" not in str(msg.content)


async def test_text_to_image_saved_to_output_dir(token: str, cassette: Any, tmp_path: Any) -> None:
    toolkit = HuggingFaceToolkit(api_key=token, output_dir=tmp_path / "out")
    tool = toolkit.get_tool("text_to_image")
    args = {"prompt": PROMPT, "width": 256, "height": 256}
    with cassette("text-to-image/with-parameters"):
        msg = await tool.ainvoke({"name": tool.name, "args": args, "id": "1", "type": "tool_call"})
    (saved,) = (tmp_path / "out").iterdir()
    assert saved.suffix == ".jpg" and saved.read_bytes() == msg.artifact.image
    assert msg.content == f"Generated a JPEG image, 256x256, 2 KB, saved to {saved}"


def test_text_to_image_parses_base64_json_and_refuses_non_images() -> None:
    from hf_tools.tasks.text_to_image import TextToImageInput, parse

    args = TextToImageInput(prompt="p")
    png = IMAGE.read_bytes()
    for body in ({"image": base64.b64encode(png).decode()}, [base64.b64encode(png).decode()]):
        out = parse(body, args)
        assert (out.mime, out.width, out.height, out.image) == ("image/png", 512, 512, png)
    with pytest.raises(ResponseFormatError, match="not an image"):
        parse(b"<html>busy</html>", args)
    with pytest.raises(ResponseFormatError, match="expected image bytes"):
        parse({"error": None}, args)


def test_segment_keeps_unknown_fields() -> None:
    spec = get_spec("image-segmentation")
    mask = base64.b64encode((FIXTURES / "image.png").read_bytes()).decode()
    out = spec.hf_inference.parse(
        [{"label": "cat", "score": 0.9, "mask": mask, "instance_id": 3}],
        spec.input_model.model_construct(image="x"),
    )
    assert out.segments[0].model_extra == {"instance_id": 3}
