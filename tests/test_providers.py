"""Provider adapters: every recorded provider response parses; requests match the recordings.

``tests/fixtures/providers/recorded.json`` holds every in-scope 2xx provider response of the
two huggingface.js tapes (copied by ``scripts/make_provider_cassettes.py``); the cassettes
under ``cassettes/providers/`` replay whole flows (submit, polls, result download).
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from hf_tools.errors import ConfigurationError, ResponseFormatError
from hf_tools.providers import (
    REGISTRY,
    Adapter,
    Call,
    Done,
    JobCancelledError,
    JobFailedError,
    Reply,
    Request,
    Send,
    get_adapter,
    providers_for,
)
from hf_tools.providers._base import Step
from hf_tools.tasks import REGISTRY as TASKS
from hf_tools.tasks import get_spec
from hf_tools.tasks._base import Media
from hf_tools.tasks.automatic_speech_recognition import AutomaticSpeechRecognitionOutput
from hf_tools.tasks.conversational import ConversationalOutput
from hf_tools.tasks.feature_extraction import FeatureExtractionOutput
from hf_tools.tasks.image_text_to_text import ImageTextToTextOutput
from hf_tools.tasks.image_to_image import ImageToImageOutput
from hf_tools.tasks.image_to_video import ImageToVideoOutput
from hf_tools.tasks.text_generation import TextGenerationOutput
from hf_tools.tasks.text_to_image import TextToImageOutput
from hf_tools.tasks.text_to_speech import TextToSpeechOutput
from hf_tools.tasks.text_to_video import TextToVideoOutput

from .conftest import CASSETTES, FIXTURES

ROUTER = "https://router.huggingface.co"
_DATA = json.loads((FIXTURES / "providers" / "recorded.json").read_text(encoding="utf-8"))
RECORDS: list[dict[str, Any]] = _DATA["records"]
# Pairs no tape recorded, in the same shape: bodies as the providers document them.
DOCUMENTED: list[dict[str, Any]] = json.loads(
    (FIXTURES / "providers" / "documented.json").read_text(encoding="utf-8")
)["records"]
# Cut real images by type (the recorder kept no result-file bodies): what downloads answer.
SAMPLES = {kind: base64.b64decode(b64) for kind, b64 in _DATA["samples"].items()}
OUTPUTS = {
    "text-to-image": TextToImageOutput,
    "text-generation": TextGenerationOutput,
    "feature-extraction": FeatureExtractionOutput,
    "conversational": ConversationalOutput,
    "automatic-speech-recognition": AutomaticSpeechRecognitionOutput,
    "text-to-speech": TextToSpeechOutput,
    "image-text-to-text": ImageTextToTextOutput,
    "image-to-image": ImageToImageOutput,
    "text-to-video": TextToVideoOutput,
    "image-to-video": ImageToVideoOutput,
}
AUDIO = Media((FIXTURES / "audio.flac").read_bytes(), "audio/flac")
PNG = (FIXTURES / "small.png").read_bytes()  # the image of the image-to-* cassettes
_MEDIA = {"image": Media(PNG, "image/png"), "audio": AUDIO}


def call_for(record: Mapping[str, Any], router_url: str = ROUTER) -> Call[Any]:
    """The call that reproduces a recorded one: same task arguments, same provider model."""
    spec = get_spec(record["task"])
    return Call(
        task=record["task"],
        provider=record["provider"],
        model=record["model"],
        args=spec.input_model.model_validate(record["args"]),
        media={f: _MEDIA[f] for f in spec.media_fields},
        router_url=router_url,
    )


def sample_for(url: str, kind: str | None = None) -> bytes:
    """A result file of the type given, or that its URL names (fal names JPEGs .png)."""
    if kind and kind.startswith(("audio/", "video/")):  # replicate says audio/x-wav
        return SAMPLES["audio/wav" if kind.startswith("audio/") else "video/mp4"]
    kind = next((k for k in SAMPLES if url.split("?")[0].endswith(k.split("/")[1])), "image/jpeg")
    return SAMPLES[kind]


def run(
    adapter: Adapter[Any], call: Call[Any], answers: list[Any], kind: str | None = None
) -> tuple[Any, list[Request]]:
    """A minimal driver: answers in order, result downloads answered with a sample."""
    sent: list[Request] = []
    step: Step = adapter.start(call)
    while isinstance(step, Send):
        sent.append(step.request)
        if step.request.purpose == "download":
            body: Any = sample_for(step.request.url, kind)
        else:
            body = answers.pop(0)
        step = step.then(Reply(body))
    assert answers == [], "every recorded answer is used"
    return step.output, sent


def answers_of(record: Mapping[str, Any]) -> list[Any]:
    """What a record's flow is answered, in order: queue steps, the body (or file), polls."""
    first = SAMPLES[record["body_file"]] if record.get("body_file") else record["body"]
    return [*record.get("queue", []), first, *record.get("polls", [])]


def run_record(record: Mapping[str, Any]) -> tuple[Any, list[Request]]:
    adapter = get_adapter(record["provider"], record["task"])
    return run(adapter, call_for(record), answers_of(record), record.get("download_type"))


def record_id(record: Mapping[str, Any]) -> str:
    return f"{record['provider']}-{record['task']}-{record['source'][-8:]}"


def test_every_recorded_provider_response_parses_into_the_task_output() -> None:
    # The count: 0 of 68 text-to-image, 0 of 6 completions, 0 of 1 embeddings parsed.
    parsed = Counter(r["task"] for r in RECORDS if isinstance(run_record(r)[0], OUTPUTS[r["task"]]))
    assert parsed["text-to-image"] == 68
    assert parsed["text-generation"] == 6
    assert parsed["feature-extraction"] == 1
    assert parsed["conversational"] == 20
    assert parsed["automatic-speech-recognition"] == 6
    assert parsed["text-to-video"] == 9  # fal mochi-v1, ltx, cogvideox, hunyuan; replicate mochi
    assert parsed["text-to-speech"] == 4  # replicate kokoro-82m and oute-tts
    assert sum(parsed.values()) == len(RECORDS)


@pytest.mark.parametrize("record", RECORDS, ids=record_id)
def test_recorded_response_gives_the_recorded_values(record: dict[str, Any]) -> None:
    out, sent = run_record(record)
    body = record["body"]
    if record["task"] == "text-to-image":
        assert out.mime.startswith("image/")
        downloads = [r for r in sent if r.purpose == "download"]
        for request in downloads:  # result files never get the token
            assert request.auth is False
            assert request.method == "GET"
        if record["provider"] in ("together", "nebius"):
            assert out.image == base64.b64decode(body["data"][0]["b64_json"])
        if record["provider"] == "fal-ai" and not body["images"][0]["url"].startswith("data:"):
            assert [r.url for r in downloads] == [body["images"][0]["url"]]
        if record["provider"] == "replicate":
            output = body["output"]
            assert [r.url for r in downloads] == [output if isinstance(output, str) else output[0]]
    elif record["task"] == "text-generation":
        assert out.generated_text == body["choices"][0]["text"]
        assert out.generated_text.startswith(" a city of love")
        assert out.details["finish_reason"] == "length"
    elif record["task"] == "feature-extraction":
        assert out.vectors == [body["data"][0]["embedding"]]
        assert out.pooled and out.shape == [4096]
    elif record["task"] == "conversational":
        assert out.generated_text == body["choices"][0]["message"]["content"]
        assert out.model == body["model"]
    elif record["task"] in ("text-to-video", "text-to-speech"):
        # The result file is downloaded from the URL the body names, without the token.
        url = body["video"]["url"] if record["provider"] == "fal-ai" else body["output"]
        assert [(r.url, r.auth) for r in sent if r.purpose == "download"] == [(url, False)]
        data = out.video if record["task"] == "text-to-video" else out.audio
        assert data == sample_for(url, record.get("download_type"))
        assert out.mime == ("video/mp4" if record["task"] == "text-to-video" else "audio/wav")
    else:
        assert out.text == body["text"]
        assert out.chunks is None  # return_timestamps was not asked for


@pytest.mark.parametrize("record", RECORDS, ids=record_id)
def test_route_is_the_recorded_path_under_the_router(record: dict[str, Any]) -> None:
    call = call_for(record)
    adapter = get_adapter(record["provider"], record["task"])
    first = adapter.start(call).request
    # fal's videos go to its queue (huggingface.js called the synchronous route).
    queued = "?_subdomain=queue" if "queue" in record else ""
    assert first.url == f"{ROUTER}/{record['provider']}{urlsplit(record['url']).path}{queued}"
    assert first.method == "POST" and first.auth is True
    if record["provider"] == "replicate":
        assert first.headers == {"Prefer": "wait"}


# huggingface.js sent its own fields along (``inputs``, ``provider``; fal ignores them, the
# others tolerated them). The rest are arguments our tools do not take: the conversational
# tool has no sampling parameters; fal answers a URL unless ``sync_mode``, which we do not
# ask for (the URL is downloaded).
_HF_JS_ONLY = {"inputs", "provider", "parameters"}
_NOT_OUR_ARGUMENTS = {
    "conversational": {"temperature", "top_p", "max_tokens", "max_new_tokens"},
    "text-to-image": {"response_format", "model", "sync_mode"},
    "text-to-video": {"resolution"},  # fal's own option, not one of the task's parameters
}


def _comparable(record: Mapping[str, Any]) -> dict[str, Any]:
    drop = set(_HF_JS_ONLY)
    if record["provider"] == "fal-ai" or record["task"] != "text-to-image":
        drop |= _NOT_OUR_ARGUMENTS.get(record["task"], set())
    return {k: v for k, v in record["request"].items() if k not in drop}


@pytest.mark.parametrize(
    "record",
    # fal LoRA calls need the Hub mapping's adapterWeightsPath (tests/test_lora.py); ASR bodies were
    # binary, which the recorder did not keep; huggingface.js sent oute-tts its text as
    # `input.inputs`, which both clients' TTS adapters now send as `input.text` (kokoro).
    [
        r
        for r in RECORDS
        if r["request"] and "loras" not in r["request"] and "oute-tts" not in r["model"]
    ],
    ids=record_id,
)
def test_payload_is_what_the_recording_sent(record: dict[str, Any]) -> None:
    call = call_for(record)
    payload = get_adapter(record["provider"], record["task"]).payload(call)
    assert payload.json == _comparable(record)


def _cassettes() -> list[Path]:
    root = CASSETTES / "providers"
    return sorted(p for p in root.rglob("*.yaml") if p.parent.parent.name != "hub")


@pytest.mark.parametrize("path", _cassettes(), ids=lambda p: p.relative_to(CASSETTES).as_posix())
def test_cassette_replays_the_adapters_requests(path: Path) -> None:
    provider, task = path.parent.parent.name, path.parent.name
    interactions = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
    first = json.loads(interactions[0]["request"]["body"])
    adapter = get_adapter(provider, task)
    # The recorded call this cassette was built from: the one whose request it carries.
    record = next(
        r
        for r in RECORDS + DOCUMENTED
        if (r["provider"], r["task"]) == (provider, task)
        and adapter.url(call_for(r)) == interactions[0]["request"]["uri"]
        and adapter.payload(call_for(r)).json == first
    )
    step: Step = adapter.start(call_for(record))
    downloads: list[bytes] = []
    for item in interactions:
        assert isinstance(step, Send)
        request, response = item["request"], item["response"]
        assert (step.request.method, step.request.url) == (request["method"], request["uri"])
        assert step.request.auth is request["uri"].startswith(ROUTER + "/")
        if step.request.payload is not None:
            assert step.request.payload.json == json.loads(request["body"])
        raw = response["body"]["string"]
        body = raw if step.request.expect == "bytes" else json.loads(raw)
        if step.request.purpose == "download":
            downloads.append(raw)
        step = step.then(Reply(body, response["headers"]["content-type"][0]))
    assert isinstance(step, Done)
    assert isinstance(step.output, OUTPUTS[task])
    if task in _FILE_FIELD and downloads:  # the artifact holds the downloaded file's bytes
        assert getattr(step.output, _FILE_FIELD[task]) == downloads[-1]


_FILE_FIELD = {
    "text-to-speech": "audio",
    "image-to-image": "image",
    "text-to-video": "video",
    "image-to-video": "video",
}


def test_fal_asr_sends_the_local_flac_inline_and_keeps_chunks_when_asked() -> None:
    record = next(r for r in RECORDS if r["model"] == "fal-ai/whisper")
    call = call_for(record)
    payload = get_adapter("fal-ai", "automatic-speech-recognition").payload(call)
    head, _, data = payload.json["audio_url"].partition(",")
    assert head == "data:audio/flac;base64"
    assert base64.b64decode(data) == AUDIO.data
    timed = Call(
        **{**call_fields(call), "args": call.args.model_copy(update={"return_timestamps": True})}
    )
    step = REGISTRY[("fal-ai", "automatic-speech-recognition")].parse(record["body"], timed)
    assert isinstance(step, Done)
    assert step.output.chunks[0].timestamp == [0, 9.9]


def call_fields(call: Call[Any]) -> dict[str, Any]:
    return {
        f: getattr(call, f) for f in ("task", "provider", "model", "args", "media", "router_url")
    }


def _replicate(**changes: Any) -> tuple[dict[str, Any], Call[Any]]:
    record = next(
        r
        for r in RECORDS
        if r["model"] == "black-forest-labs/flux-schnell" and r["provider"] == "replicate"
    )
    body = copy.deepcopy(record["body"]) | changes
    return body, call_for(record)


def test_replicate_polls_a_prediction_without_output_through_the_router_until_it_succeeds() -> None:
    done, call = _replicate()
    started = {**done, "status": "starting", "output": None}
    running = {**done, "status": "processing", "output": None}
    succeeded = {**done, "status": "succeeded"}
    out, sent = run(REGISTRY[("replicate", "text-to-image")], call, [started, running, succeeded])
    assert isinstance(out, TextToImageOutput)
    poll = f"{ROUTER}/replicate/v1/predictions/{done['id']}"
    assert [(r.purpose, r.url, r.auth) for r in sent[1:]] == [
        ("poll", poll, True),
        ("poll", poll, True),
        ("download", done["output"][0], False),
    ]


def test_a_poll_waits_the_jobs_interval_before_it_is_sent() -> None:
    done, call = _replicate(status="starting", output=None)
    step = REGISTRY[("replicate", "text-to-image")].parse(done, call)
    assert isinstance(step, Send)
    assert (step.request.method, step.request.purpose, step.delay) == ("GET", "poll", 1.0)


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [("failed", "CUDA out of memory", JobFailedError), ("canceled", None, JobCancelledError)],
)
def test_a_failed_or_canceled_prediction_raises_a_typed_error_with_replicates_words(
    status: str, error: str | None, kind: type[JobFailedError]
) -> None:
    body, call = _replicate(status="starting", output=None)
    ended = {**body, "status": status, "error": error}
    with pytest.raises(kind) as info:
        run(REGISTRY[("replicate", "text-to-image")], call, [body, ended])
    assert type(info.value) is kind
    assert info.value.job_id == body["id"]
    assert (error or "canceled") in str(info.value)
    assert info.value.llm_fixable


def test_an_unknown_prediction_status_is_a_format_error_not_an_endless_poll() -> None:
    body, call = _replicate(status="mystery", output=None)
    with pytest.raises(ResponseFormatError, match="unknown prediction status 'mystery'"):
        REGISTRY[("replicate", "text-to-image")].parse(body, call)


def test_bfl_polls_its_own_host_without_the_token_and_reports_moderation() -> None:
    record = next(r for r in RECORDS if r["provider"] == "black-forest-labs")
    out, sent = run_record(record)
    assert isinstance(out, TextToImageOutput)
    assert [(r.purpose, r.auth) for r in sent] == [
        ("call", True),
        ("poll", False),
        ("poll", False),
        ("download", False),
    ]
    moderated = {"id": "x", "status": "Content Moderated", "details": {"reason": "nsfw"}}
    with pytest.raises(JobFailedError, match=r"Content Moderated.*nsfw"):
        run(
            REGISTRY[("black-forest-labs", "text-to-image")],
            call_for(record),
            [record["body"], moderated],
        )


def test_replicate_asr_reads_every_output_shape() -> None:
    adapter = REGISTRY[("replicate", "automatic-speech-recognition")]
    call = Call(
        task="automatic-speech-recognition",
        provider="replicate",
        model="openai/whisper:8099696689d249cf8b122d833c36ac3f75505c666a395ca40ef26f68e7d3d16e",
        args=get_spec("automatic-speech-recognition").input_model.model_validate(
            {"audio": "a.flac"}
        ),
        media={"audio": AUDIO},
    )
    payload = adapter.payload(call).json
    assert payload["version"] == call.model.split(":")[1]
    assert payload["input"]["audio"].startswith("data:audio/flac;base64,")
    assert adapter.start(call).request.url == f"{ROUTER}/replicate/v1/predictions"
    for output in ("hi", ["hi"], {"transcription": "hi"}, {"translation": "hi"}):
        step = adapter.parse({"id": "p", "status": "succeeded", "output": output}, call)
        assert isinstance(step, Done) and step.output.text == "hi", output
    txt = adapter.parse(
        {"id": "p", "status": "succeeded", "output": {"txt_file": "https://r.d/t.txt"}}, call
    )
    assert isinstance(txt, Send) and txt.request.purpose == "download"
    assert txt.then(Reply(b"hi")) == Done(AutomaticSpeechRecognitionOutput(text="hi"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"detail": "nope"}, r"fal-ai: expected \['images'\]"),
        ({"images": []}, r"expected \['images'\]\[0\]"),
        ({"images": [{"url": "ftp://x/y.png"}]}, "expected an http"),
        ({"images": [{"url": "data:image/png;base64,!!!"}]}, "invalid base64"),
    ],
)
def test_a_malformed_provider_body_is_a_format_error_naming_provider_and_model(
    body: Any, message: str
) -> None:
    record = next(r for r in RECORDS if r["provider"] == "fal-ai" and r["task"] == "text-to-image")
    with pytest.raises(ResponseFormatError, match=message) as info:
        REGISTRY[("fal-ai", "text-to-image")].parse(body, call_for(record))
    assert info.value.model == record["model"]
    assert info.value.task == "text-to-image"


def test_a_download_that_is_not_an_image_is_refused() -> None:
    record = next(r for r in RECORDS if r["provider"] == "fal-ai" and r["task"] == "text-to-image")
    step = REGISTRY[("fal-ai", "text-to-image")].parse(record["body"], call_for(record))
    assert isinstance(step, Send)
    with pytest.raises(ResponseFormatError, match="not an image"):
        step.then(Reply(b"<html>404</html>"))


def _chat(body: Any) -> ConversationalOutput:
    call = Call(
        task="conversational",
        provider="together",
        model="m",
        args=get_spec("conversational").input_model.model_validate({"message": "hi"}),
    )
    step = REGISTRY[("together", "conversational")].parse(body, call)
    assert isinstance(step, Done)
    out: ConversationalOutput = step.output
    return out


def test_chat_reads_content_parts_null_content_and_usage() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    parts = [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]
    out = _chat(
        {"choices": [{"message": {"content": parts}, "finish_reason": "stop"}], "usage": usage}
    )
    assert (out.generated_text, out.finish_reason) == ("ab", "stop")
    assert out.usage == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert (
        _chat({"choices": [{"message": {"content": None, "tool_calls": []}}]}).generated_text == ""
    )
    with pytest.raises(ResponseFormatError, match=r"\['choices'\]\[0\]"):
        _chat({"choices": []})


def test_embeddings_follow_index_order_for_several_texts() -> None:
    call = Call(
        task="feature-extraction",
        provider="together",
        model="m",
        args=get_spec("feature-extraction").input_model.model_validate({"texts": ["a", "b"]}),
    )
    body = {"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}]}
    step = REGISTRY[("together", "feature-extraction")].parse(body, call)
    assert isinstance(step, Done) and step.output.vectors == [[1.0], [2.0]]


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            "fal-ai",
            {
                "prompt": "p",
                "negative_prompt": "n",
                "seed": 1,
                "image_size": {"width": 512, "height": 256},
            },
        ),
        (
            "together",
            {
                "prompt": "p",
                "model": "m",
                "response_format": "base64",
                "negative_prompt": "n",
                "width": 512,
                "height": 256,
                "steps": 4,
                "seed": 1,
            },
        ),
        (
            "nscale",
            {
                "prompt": "p",
                "model": "m",
                "response_format": "b64_json",
                "negative_prompt": "n",
                "size": "512x256",
                "seed": 1,
            },
        ),
        (
            "hyperbolic",
            {
                "prompt": "p",
                "model_name": "m",
                "negative_prompt": "n",
                "width": 512,
                "height": 256,
                "steps": 4,
                "seed": 1,
            },
        ),
        (
            "replicate",
            {
                "input": {
                    "prompt": "p",
                    "negative_prompt": "n",
                    "width": 512,
                    "height": 256,
                    "num_inference_steps": 4,
                    "seed": 1,
                }
            },
        ),
    ],
)
def test_text_to_image_parameters_use_each_providers_names(
    provider: str, expected: dict[str, Any]
) -> None:
    args = {
        "prompt": "p",
        "negative_prompt": "n",
        "width": 512,
        "height": 256,
        "num_inference_steps": 4,
        "seed": 1,
    }
    if provider == "fal-ai":
        args.pop("num_inference_steps")
    call = Call(
        task="text-to-image",
        provider=provider,
        model="m",
        args=get_spec("text-to-image").input_model.model_validate(args),
    )
    assert REGISTRY[(provider, "text-to-image")].payload(call).json == expected


def test_completions_send_openai_names_and_leave_tgi_only_options_out() -> None:
    call = Call(
        task="text-generation",
        provider="novita",
        model="m",
        args=get_spec("text-generation").input_model.model_validate(
            {"prompt": "p", "max_new_tokens": 5, "stop": ["\n"], "do_sample": True, "details": True}
        ),
    )
    body = REGISTRY[("novita", "text-generation")].payload(call).json
    assert body == {"model": "m", "prompt": "p", "max_tokens": 5, "stop": ["\n"]}


def test_registry_pairs_are_real_tasks_and_unknown_pairs_name_the_fitting_providers() -> None:
    assert {task for _, task in REGISTRY} <= set(TASKS)
    assert {"fal-ai", "replicate", "together"} <= set(providers_for("text-to-image"))
    with pytest.raises(
        ConfigurationError, match=r"'fal-ai' has no adapter for conversational.*together"
    ):
        get_adapter("fal-ai", "conversational")


def test_a_custom_router_url_is_where_every_router_request_goes() -> None:
    record = next(r for r in RECORDS if r["provider"] == "replicate")
    call = call_for(record, router_url="http://127.0.0.1:9/")
    step = REGISTRY[("replicate", "text-to-image")].parse(
        {**record["body"], "status": "starting", "output": None}, call
    )
    assert isinstance(step, Send)
    assert step.request.url == f"http://127.0.0.1:9/replicate/v1/predictions/{record['body']['id']}"
    assert step.request.auth is True


def test_the_provider_core_imports_no_langchain() -> None:
    code = (
        "import sys, hf_tools.providers, hf_tools.routing\n"
        "from hf_tools.providers import REGISTRY, Call\n"
        "from hf_tools.tasks import get_spec\n"
        "a = REGISTRY[('together', 'conversational')]\n"
        "c = Call(task='conversational', provider='together', model='m',"
        " args=get_spec('conversational').input_model(message='hi'))\n"
        "a.parse({'choices': [{'message': {'content': 'x'}}]}, c)\n"
        "assert 'langchain_core' not in sys.modules, 'langchain_core was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _t2i(provider: str, model: str, **args: Any) -> Call[Any]:
    spec = get_spec("text-to-image")
    return Call(
        task="text-to-image",
        provider=provider,
        model=model,
        args=spec.input_model.model_validate({"prompt": "p", **args}),
    )


# Formats only documented (huggingface_hub's adapters): no recording exists for these.
def test_fal_queue_segmentation_polls_status_then_fetches_the_result_through_the_router() -> None:
    call = Call(
        task="image-segmentation",
        provider="fal-ai",
        model="fal-ai/sam",
        args=get_spec("image-segmentation").input_model.model_validate({"image": "x.png"}),
        media={"image": Media(PNG, "image/png")},
    )
    queued = {
        "request_id": "abc",
        "status": "IN_QUEUE",
        "response_url": "https://queue.fal.run/fal-ai/sam/requests/abc",
    }
    answers = [
        queued,
        {"status": "IN_PROGRESS"},
        {"status": "COMPLETED"},
        {"image": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}},
    ]
    out, sent = run(REGISTRY[("fal-ai", "image-segmentation")], call, answers)
    base = f"{ROUTER}/fal-ai/fal-ai/sam"
    assert [(r.method, r.url, r.auth, r.purpose) for r in sent] == [
        ("POST", f"{base}?_subdomain=queue", True, "call"),
        ("GET", f"{base}/requests/abc/status?_subdomain=queue", True, "poll"),
        ("GET", f"{base}/requests/abc/status?_subdomain=queue", True, "poll"),
        ("GET", f"{base}/requests/abc?_subdomain=queue", True, "call"),
    ]
    assert sent[0].payload is not None and sent[0].payload.json["sync_mode"] is True
    assert [s.label for s in out.segments] == ["mask"] and out.segments[0].mask == PNG
    with pytest.raises(JobFailedError, match="status 'ERROR'"):
        run(REGISTRY[("fal-ai", "image-segmentation")], call, [queued, {"status": "ERROR"}])


def test_wavespeed_polls_its_result_path_through_the_router() -> None:
    call = _t2i("wavespeed", "wavespeed-ai/flux-dev", width=512, height=512)
    submitted = {
        "data": {
            "id": "t1",
            "status": "created",
            "urls": {"get": "https://api.wavespeed.ai/api/v3/predictions/t1/result"},
        }
    }
    done = {
        "data": {"id": "t1", "status": "completed", "outputs": ["https://d.wavespeed.ai/t1.png"]}
    }
    out, sent = run(
        REGISTRY[("wavespeed", "text-to-image")],
        call,
        [submitted, {"data": {"status": "processing"}}, done],
    )
    assert isinstance(out, TextToImageOutput)
    assert sent[0].url == f"{ROUTER}/wavespeed/api/v3/wavespeed-ai/flux-dev"
    assert sent[0].payload is not None and sent[0].payload.json == {
        "prompt": "p",
        "width": 512,
        "height": 512,
    }
    assert [(r.url, r.auth) for r in sent[1:]] == [
        (f"{ROUTER}/wavespeed/api/v3/predictions/t1/result", True),
        (f"{ROUTER}/wavespeed/api/v3/predictions/t1/result", True),
        ("https://d.wavespeed.ai/t1.png", False),
    ]
    failed = {"data": {"id": "t1", "status": "failed", "error": "NSFW prompt"}}
    with pytest.raises(JobFailedError, match="NSFW prompt"):
        run(REGISTRY[("wavespeed", "text-to-image")], call, [submitted, failed])


def test_zai_sends_its_headers_and_polls_the_async_result() -> None:
    call = _t2i("zai-org", "cogview-4", width=1024, height=768, seed=3)
    adapter = REGISTRY[("zai-org", "text-to-image")]
    assert adapter.payload(call).json == {"prompt": "p", "model": "cogview-4", "size": "1024x768"}
    done = {"id": "z1", "task_status": "SUCCESS", "image_result": [{"url": "https://z.ai/i.png"}]}
    out, sent = run(adapter, call, [{"id": "z1", "task_status": "PROCESSING"}, done])
    assert isinstance(out, TextToImageOutput)
    assert sent[1].url == f"{ROUTER}/zai-org/api/paas/v4/async-result/z1"
    assert (
        sent[0].headers
        == sent[1].headers
        == {"Accept-Language": "en-US,en", "x-source-channel": "hugging_face"}
    )
    assert REGISTRY[("zai-org", "conversational")].headers == sent[0].headers
    with pytest.raises(JobFailedError):
        run(adapter, call, [{"id": "z1", "task_status": "FAIL"}])


# Responses as the OpenAI formats document them, for pairs with no recorded body.
_OPENAI_BODIES = {
    "conversational": {
        "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]
    },
    "image-text-to-text": {
        "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]
    },
    "text-generation": {"choices": [{"text": "ok", "finish_reason": "stop"}]},
    "feature-extraction": {"data": [{"index": 0, "embedding": [0.5, 0.25]}]},
    "text-to-image": {"data": [{"b64_json": base64.b64encode(PNG).decode()}]},
}
# Pairs whose flows the tests above drive from documented bodies.
_DOCUMENTED = {
    ("fal-ai", "image-segmentation"),
    ("wavespeed", "text-to-image"),
    ("zai-org", "text-to-image"),
    ("replicate", "automatic-speech-recognition"),
    ("deepinfra", "automatic-speech-recognition"),  # multipart: tests/test_new_tasks.py
}
_RECORDED = {(r["provider"], r["task"]) for r in RECORDS + DOCUMENTED}


# hf-inference's adapters are driven end to end from every task's cassettes (test_contract).
@pytest.mark.parametrize(
    "pair", sorted(p for p in REGISTRY if p[0] != "hf-inference"), ids="/".join
)
def test_every_adapter_builds_a_router_request_and_reads_its_format(pair: tuple[str, str]) -> None:
    provider, task = pair
    adapter, spec = REGISTRY[pair], get_spec(task)
    call = Call(
        task=task,
        provider=provider,
        model="org/model",
        args=spec.input_model.model_validate(spec.example),
        media={f: _MEDIA[f] for f in spec.media_fields},
    )
    first = adapter.start(call)
    assert first.request.method == "POST" and first.request.auth is True
    assert first.request.url.startswith(f"{ROUTER}/{provider}/")
    assert first.request.payload is not None
    body = first.request.payload.json
    if body is None:  # a multipart upload (deepinfra's transcriptions)
        assert first.request.payload.data and first.request.payload.content_type
        assert pair in _DOCUMENTED
        return
    assert json.loads(json.dumps(body)) == body
    assert None not in body.values(), "unset parameters are not sent"
    if pair in _RECORDED or pair in _DOCUMENTED:
        return  # driven end to end above
    step = first.then(Reply(_OPENAI_BODIES[task]))
    assert isinstance(step, Done) and isinstance(step.output, OUTPUTS[task])


# ------------------------------------------- speech, image edits and videos (documented)


def _documented(provider: str, task: str) -> dict[str, Any]:
    return next(r for r in DOCUMENTED if (r["provider"], r["task"]) == (provider, task))


@pytest.mark.parametrize("record", DOCUMENTED, ids=lambda r: f"{r['provider']}-{r['task']}")
def test_documented_flow_polls_through_the_router_and_downloads_without_the_token(
    record: dict[str, Any],
) -> None:
    out, sent = run_record(record)
    assert isinstance(out, OUTPUTS[record["task"]])
    calls = [r for r in sent if r.purpose != "download"]
    assert all(r.auth and r.url.startswith(f"{ROUTER}/{record['provider']}/") for r in calls)
    downloads = [r for r in sent if r.purpose == "download"]
    assert all(r.auth is False and r.method == "GET" for r in downloads)
    data = getattr(out, _FILE_FIELD[record["task"]])
    if downloads:  # together's images and speech come inline
        assert data == sample_for(downloads[0].url, record["download_type"])
    assert out.mime.split("/")[0] == record["download_type"].split("/")[0]


def test_fal_image_to_video_sends_the_image_inline_and_polls_the_response_path() -> None:
    record = _documented("fal-ai", "image-to-video")
    out, sent = run_record(record)
    body = sent[0].payload.json if sent[0].payload else {}
    assert body["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert body["prompt"] == "The cat turns its head."
    # The response_url names fal-ai/wan, not the full model id: its path is polled.
    base = f"{ROUTER}/fal-ai/fal-ai/wan/requests/{record['body']['request_id']}"
    assert [r.url for r in sent[1:4]] == [
        f"{base}/status?_subdomain=queue",
        f"{base}/status?_subdomain=queue",
        f"{base}?_subdomain=queue",
    ]
    assert out.mime == "video/mp4" and out.video == SAMPLES["video/mp4"]


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("black-forest-labs/FLUX.1-kontext-dev", "image_url"),
        ("black-forest-labs/FLUX.2-dev", "reference_images"),
    ],
)
def test_together_image_edits_name_the_image_as_the_model_family_wants(
    model: str, field: str
) -> None:
    record = {**_documented("together", "image-to-image"), "model": model}
    body = get_adapter("together", "image-to-image").payload(call_for(record)).json
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert body[field] == (image if field == "image_url" else [image])
    assert ({"image_url", "reference_images"} - {field}).pop() not in body  # one, never both
    assert (body["prompt"], body["steps"], body["model"]) == (
        "Turn the cat into a tiger.",
        28,
        model,
    )
    assert body["response_format"] == "base64" and "num_inference_steps" not in body


def test_replicate_image_edit_sends_the_image_under_every_key_its_models_read() -> None:
    record = _documented("replicate", "image-to-image")
    inputs = get_adapter("replicate", "image-to-image").payload(call_for(record)).json["input"]
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert inputs == {
        "image": image,
        "images": [image],
        "input_image": image,
        "input_images": [image],
        "prompt": "Turn the cat into a tiger.",
    }


@pytest.mark.parametrize("provider", ["together", "deepinfra"])
def test_openai_style_speech_is_read_as_the_audio_bytes_themselves(provider: str) -> None:
    record = _documented(provider, "text-to-speech")
    first = get_adapter(provider, "text-to-speech").start(call_for(record))
    assert first.request.expect == "bytes"  # capped as a file, not as JSON
    assert first.request.payload is not None
    assert first.request.payload.json == {
        "input": "Hello from hf-tools.",
        "model": record["model"],
        "voice": record["args"]["voice"],
    }
    done = first.then(Reply(SAMPLES["audio/wav"], "audio/wav"))
    assert isinstance(done, Done) and done.output.seconds == 0.25
    with pytest.raises(ResponseFormatError, match="not audio"):
        first.then(Reply(b"<html>busy</html>", "text/html"))


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            {"id": "v1", "status": "failed", "error": {"message": "prompt flagged"}},
            JobFailedError,
            "together video generation failed: prompt flagged",
        ),
        ({"id": "v1", "status": "exploded"}, ResponseFormatError, "unknown together video status"),
    ],
)
def test_a_together_video_job_that_ends_badly_raises_with_its_words(
    body: dict[str, Any], error: type[Exception], message: str
) -> None:
    record = _documented("together", "text-to-video")
    with pytest.raises(error, match=message):
        run(REGISTRY[("together", "text-to-video")], call_for(record), [record["body"], body])


def test_a_fal_video_result_that_is_not_a_video_is_a_format_error() -> None:
    record = next(r for r in RECORDS if r["model"] == "fal-ai/ltx-video")
    step: Step = REGISTRY[("fal-ai", "text-to-video")].start(call_for(record))
    for answer in answers_of(record):
        assert isinstance(step, Send)
        step = step.then(Reply(answer))
    assert isinstance(step, Send) and step.request.purpose == "download"
    with pytest.raises(ResponseFormatError, match="not video") as info:
        step.then(Reply(SAMPLES["image/png"]))
    assert info.value.task == "text-to-video"


def test_hf_inference_is_an_adapter_per_task_contract_built_from_its_wire() -> None:
    spoken = {task for task, spec in TASKS.items() if spec.hf_inference is not None}
    assert {t for p, t in REGISTRY if p == "hf-inference"} == spoken
    # Only providers serve these: hf-inference has no format for them (speech and image edits
    # it speaks, for a model the user names, as huggingface_hub does).
    assert set(TASKS) - spoken == {"text-to-video", "image-to-video"}
    spec = get_spec("sentence-similarity")
    call = Call(
        task=spec.task,
        provider="hf-inference",
        model="org/m",
        args=spec.input_model.model_validate(spec.example),
    )
    first = get_adapter("hf-inference", spec.task).start(call)
    assert first.request.url == f"{ROUTER}/hf-inference/models/org/m/pipeline/sentence-similarity"
    assert first.request.payload is not None
    assert (
        first.request.payload.json["inputs"]["source_sentence"] == spec.example["source_sentence"]
    )
    step = first.then(Reply([0.5, 0.25, 0.125]))
    assert isinstance(step, Done) and step.output.scores[0].score == 0.5
    image = get_adapter("hf-inference", "text-to-image")
    assert (image.expect, dict(image.headers)) == ("bytes", {"accept": "image/png"})
    assert get_adapter("hf-inference", "image-segmentation").offload
