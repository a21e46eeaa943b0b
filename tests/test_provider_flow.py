"""Providers wired into the clients and the toolkit: routing, the call flow, its faults.

Happy paths replay the recorded provider cassettes in ``cassettes/providers/`` behind a Hub
model-info interaction (recorded where one exists; otherwise written here from the documented
list form, as ``cassettes/INDEX.md`` describes it). Fault flows are written per test into a
temporary cassette from the recorded bodies.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from langchain_core.messages import ToolMessage

import hf_tools.http.send
import hf_tools.media
import hf_tools.routing
from hf_tools import AsyncHFClient, HFClient, HuggingFaceToolkit
from hf_tools.config import Settings
from hf_tools.errors import ConfigurationError, HFTimeoutError, ResponseTooLargeError
from hf_tools.http import HFRequest
from hf_tools.providers import REGISTRY as PROVIDER_REGISTRY
from hf_tools.providers import JobFailedError, get_adapter
from hf_tools.routing import NoProviderError, hub_task
from hf_tools.tasks.automatic_speech_recognition import AutomaticSpeechRecognitionOutput
from hf_tools.tasks.text_to_image import TextToImageOutput
from hf_tools.testing import use_cassette

from .conftest import CASSETTES, FIXTURES, ROOT

FLUX = "black-forest-labs/FLUX.1-schnell"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
WHISPER = "openai/whisper-large-v3"
FLUX_PROMPT = (
    "black forest gateau cake spelling out the words FLUX SCHNELL, tasty, food photography,"
    " dynamic shot"
)
LIST_FORM = "providers/hub/inference-provider-mapping/list-form.yaml"
FAL_FLUX = "providers/fal-ai/text-to-image/flux-schnell.yaml"
REPLICATE_FLUX = "providers/replicate/text-to-image/flux-schnell.yaml"
TOGETHER_SDXL = "providers/together/text-to-image/sdxl.yaml"
FAL_WHISPER = "providers/fal-ai/automatic-speech-recognition/whisper.yaml"
PREDICTIONS = "https://router.huggingface.co/replicate/v1/predictions"
ROUTER = "https://router.huggingface.co"


def interactions(name: str) -> list[dict[str, Any]]:
    """The interactions of a library cassette."""
    text = (CASSETTES / name).read_text(encoding="utf-8")
    found: list[dict[str, Any]] = yaml.safe_load(text)["interactions"]
    return found


def exchange(
    method: str,
    uri: str,
    body: Any = None,
    *,
    status: int = 200,
    answer: Any = b"",
    ctype: str = "application/json",
) -> dict[str, Any]:
    """One interaction: a request (JSON body or none) and its answer (JSON or bytes)."""
    sent = "" if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    raw = answer if isinstance(answer, bytes) else json.dumps(answer)
    return {
        "request": {"body": sent, "headers": {}, "method": method, "uri": uri},
        "response": {
            "body": {"string": raw},
            "headers": {"content-type": [ctype]},
            "status": {"code": status, "message": ""},
        },
    }


def hub(model: str, *entries: tuple[str, str, str, str]) -> dict[str, Any]:
    """A Hub model info in the list form: (provider, providerId, status, task) entries."""
    mapping = [
        dict(zip(("provider", "providerId", "status", "task"), e, strict=True)) for e in entries
    ]
    uri = f"https://huggingface.co/api/models/{model}?expand[]=inferenceProviderMapping"
    return exchange("GET", uri, answer={"id": model, "inferenceProviderMapping": mapping})


@pytest.fixture
def flow_cassette(tmp_path: Path) -> Callable[..., AbstractContextManager[Any]]:
    """Replay the given interactions (dicts, or library cassette names) as one cassette."""

    @contextmanager
    def _use(*parts: str | dict[str, Any], **kw: Any) -> Iterator[Any]:
        merged: list[dict[str, Any]] = []
        for part in parts:
            merged += interactions(part) if isinstance(part, str) else [part]
        path = tmp_path / f"flow-{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump({"interactions": merged, "version": 1}), encoding="utf-8")
        with use_cassette(path.name, library_dir=tmp_path, record_mode="none", **kw) as cassette:
            yield cassette

    return _use


def tool_message(
    toolkit: HuggingFaceToolkit, name: str, args: dict[str, Any], mode: str = "sync"
) -> ToolMessage:
    """The tool's answer to one tool call, through ``invoke`` or (``mode="async"``) ``ainvoke``."""
    call = {"type": "tool_call", "id": "call-1", "name": name, "args": args}
    tool = toolkit.get_tool(name)
    message = tool.invoke(call) if mode == "sync" else asyncio.run(tool.ainvoke(call))
    assert isinstance(message, ToolMessage)
    return message


def download_body(name: str) -> bytes:
    body: bytes = interactions(name)[-1]["response"]["body"]["string"]
    return body


def hub_calls(sent: list[HFRequest]) -> list[HFRequest]:
    return [r for r in sent if r.url.startswith("https://huggingface.co/api/models/")]


SDXL_HUB = hub(SDXL, ("together", SDXL, "live", "text-to-image"))
WHISPER_HUB = hub(
    WHISPER,
    ("hf-inference", WHISPER, "live", "automatic-speech-recognition"),
    ("fal-ai", "fal-ai/whisper", "live", "automatic-speech-recognition"),
)


# ------------------------------------------------------------------ the "Done when" flows


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    ("provider", "recording"), [("fal-ai", FAL_FLUX), ("replicate", REPLICATE_FLUX)]
)
def test_text_to_image_on_a_named_provider_returns_the_downloaded_image_as_artifact(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sent: list[HFRequest],
    mode: str,
    provider: str,
    recording: str,
) -> None:
    toolkit = HuggingFaceToolkit(api_key=token, provider=provider, bill_to="my-org")
    with flow_cassette(LIST_FORM, recording) as cassette:
        args = {"prompt": FLUX_PROMPT}
        message = tool_message(toolkit, "text_to_image", args, mode)
    assert message.status == "success", message.content
    assert isinstance(message.artifact, TextToImageOutput)
    assert message.artifact.image == download_body(recording)
    assert message.artifact.mime == "image/jpeg"
    assert cassette.play_count == 3  # Hub, provider call, result file
    router, download = sent[1], sent[2]
    # The token and the bill-to header go to the router only, never to the provider's CDN.
    assert router.headers["authorization"] == f"Bearer {token}"
    assert router.headers["x-hf-bill-to"] == "my-org"
    assert "authorization" not in download.headers and "x-hf-bill-to" not in download.headers
    assert "x-hf-bill-to" not in sent[0].headers  # the Hub lookup is not billed
    assert download.method == "GET"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_together_text_to_image_decodes_the_b64_answer(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]], mode: str
) -> None:
    client_kw = {"api_key": token, "provider": "together", "models": {"text-to-image": SDXL}}
    prompt = "award winning high resolution photo of a giant tortoise"
    with flow_cassette(SDXL_HUB, TOGETHER_SDXL):
        if mode == "sync":
            out = HFClient(**client_kw).run("text-to-image", prompt=prompt)
        else:
            out = asyncio.run(AsyncHFClient(**client_kw).run("text-to-image", prompt=prompt))
    assert isinstance(out, TextToImageOutput)
    assert out.mime == "image/jpeg" and out.image.startswith(b"\xff\xd8")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fal_speech_recognition_sends_the_local_flac_and_reads_the_transcript(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]], mode: str
) -> None:
    toolkit = HuggingFaceToolkit(
        api_key=token,
        providers={"automatic_speech_recognition": "fal-ai"},
        models={"automatic-speech-recognition": WHISPER},
        allowed_roots=[FIXTURES],
        tasks=["automatic-speech-recognition"],
    )
    args = {"audio": str(FIXTURES / "audio.flac")}
    with flow_cassette(WHISPER_HUB, FAL_WHISPER):
        message = tool_message(toolkit, "automatic_speech_recognition", args, mode)
    assert message.status == "success", message.content
    assert isinstance(message.artifact, AutomaticSpeechRecognitionOutput)
    recorded = json.loads(interactions(FAL_WHISPER)[0]["response"]["body"]["string"])
    assert message.artifact.text == recorded["text"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_auto_resolves_from_the_mapping_with_one_hub_call_for_many_calls(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sent: list[HFRequest],
    mode: str,
) -> None:
    # list form: hf-inference is only staging (skipped), fal-ai is the first live provider.
    toolkit = HuggingFaceToolkit(api_key=token, provider="auto", tasks=["text-to-image"])
    args = {"prompt": FLUX_PROMPT}
    with flow_cassette(LIST_FORM, FAL_FLUX, allow_playback_repeats=True) as cassette:
        for _ in range(3):
            message = tool_message(toolkit, "text_to_image", args, mode)
            assert isinstance(message.artifact, TextToImageOutput)
    assert cassette.play_count == 1 + 3 * 2
    assert len(hub_calls(sent)) == 1
    assert sent[1].url == "https://router.huggingface.co/fal-ai/fal-ai/flux/schnell"


def test_provider_order_picks_among_the_live_providers(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]]
) -> None:
    client = HFClient(api_key=token, provider="auto", provider_order=["groq"])
    with flow_cassette(LIST_FORM), pytest.raises(NoProviderError, match="none of groq serves"):
        client.run("text-to-image", prompt=FLUX_PROMPT)
    client = HFClient(api_key=token, provider="auto", provider_order=["replicate", "fal-ai"])
    with flow_cassette(REPLICATE_FLUX):  # the mapping is cached: no second Hub call
        out = client.run("text-to-image", prompt=FLUX_PROMPT)
    assert out.image == download_body(REPLICATE_FLUX)


def test_a_provider_that_does_not_serve_the_model_fails_before_any_inference_call(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sent: list[HFRequest],
) -> None:
    toolkit = HuggingFaceToolkit(
        api_key=token, provider="together", models={"text-to-image": SDXL}, tasks=["text-to-image"]
    )
    only_fal = hub(SDXL, ("fal-ai", "fal-ai/fast-sdxl", "live", "text-to-image"))
    with flow_cassette(only_fal), pytest.raises(NoProviderError) as info:
        toolkit.get_tool("text_to_image").invoke({"prompt": "a tortoise"})
    assert "not served for text-to-image by together" in str(info.value)
    assert info.value.fitting == ("fal-ai",)
    assert [r.url for r in sent] == [r.url for r in hub_calls(sent)]  # the Hub only


# ------------------------------------------- speech, image edits and videos, every pair

MEDIA_TASKS = ("text-to-speech", "image-to-image", "text-to-video", "image-to-video")
FILE_FIELD = {"text-to-speech": "audio", "image-to-image": "image"}
MEDIA_CASSETTES = sorted(
    p.relative_to(CASSETTES).as_posix()
    for task in MEDIA_TASKS
    for p in (CASSETTES / "providers").glob(f"*/{task}/*.yaml")
)


def _record_of(name: str) -> dict[str, Any]:
    """The recorded (or documented) call a provider cassette was built from."""
    from .test_providers import DOCUMENTED, RECORDS
    from .test_providers import call_for as adapter_call

    provider, task = name.split("/")[1:3]
    first = interactions(name)[0]["request"]
    return next(
        r
        for r in RECORDS + DOCUMENTED
        if (r["provider"], r["task"]) == (provider, task)
        and get_adapter(provider, task).url(adapter_call(r)) == first["uri"]
        and get_adapter(provider, task).payload(adapter_call(r)).json == json.loads(first["body"])
    )


def test_every_media_pair_has_a_cassette() -> None:
    pairs = {tuple(name.split("/")[1:3]) for name in MEDIA_CASSETTES}
    # hf-inference's speech and image edits are direct calls to a named model, no Hub mapping
    # and no result file: cassettes/<task>/hf-inference.yaml (tests/test_new_tasks.py).
    routed = {(p, t) for p, t in PROVIDER_REGISTRY if t in MEDIA_TASKS and p != "hf-inference"}
    assert pairs == routed
    assert all(
        (CASSETTES / t / "hf-inference.yaml").is_file()
        for p, t in PROVIDER_REGISTRY
        if t in MEDIA_TASKS and p == "hf-inference"
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", MEDIA_CASSETTES)
def test_media_task_runs_on_its_provider_through_the_call_flow(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sent: list[HFRequest],
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    name: str,
) -> None:
    record = _record_of(name)
    provider, task = record["provider"], record["task"]
    monkeypatch.chdir(ROOT)  # the image argument is tests/fixtures/image.png
    model = f"hub-org/{task}-model"
    mapping = hub(model, (provider, record["model"], "live", hub_task(task)))
    client_kw = {"api_key": token, "provider": provider, "models": {task: model}}
    with flow_cassette(mapping, name) as cassette:
        if mode == "sync":
            out = HFClient(**client_kw).run(task, **record["args"])
        else:
            out = asyncio.run(AsyncHFClient(**client_kw).run(task, **record["args"]))
    assert cassette.all_played
    last = interactions(name)[-1]
    if last["request"]["method"] == "GET" and not last["request"]["uri"].startswith(ROUTER):
        assert getattr(out, FILE_FIELD.get(task, "video")) == last["response"]["body"]["string"]
    routed = [r for r in sent if r.url.startswith(ROUTER)]
    assert all(r.headers["authorization"] == f"Bearer {token}" for r in routed)
    others = [r for r in sent[1:] if not r.url.startswith(ROUTER)]  # result files
    assert all("authorization" not in r.headers for r in others)
    # Every poll waits its interval first; fetching a finished fal queue result does not.
    polls = [r for r in routed if r.method == "GET"]
    fetched = [r for r in polls if "/requests/" in r.url and "/status" not in r.url]
    assert len(sleeps) == len(polls) - len(fetched)


def test_a_provider_only_task_on_hf_inference_fails_before_any_request(
    sent: list[HFRequest],
) -> None:
    with pytest.raises(
        ConfigurationError, match="hf-inference does not serve text-to-video: choose a provider"
    ):
        HFClient(api_key="hf_x", provider="hf-inference").run("text-to-video", prompt="A dog")
    assert sent == []


def test_speech_answered_as_bytes_is_capped_as_a_file_not_as_json(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]]
) -> None:
    name = "providers/together/text-to-speech/sonic-2.yaml"
    record = _record_of(name)
    mapping = hub(SDXL, ("together", record["model"], "live", "text-to-speech"))
    client = HFClient(
        api_key=token,
        provider="together",
        models={"text-to-speech": SDXL},
        max_json_bytes=1024,  # the 4 KB WAV is a binary answer: max_binary_bytes applies
    )
    with flow_cassette(mapping, name):
        out = client.run("text-to-speech", **record["args"])
    assert out.audio == interactions(name)[-1]["response"]["body"]["string"]


def test_the_speech_tool_saves_the_audio_and_says_where(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]], tmp_path: Path
) -> None:
    toolkit = HuggingFaceToolkit(
        api_key=token, provider="auto", tasks=["text_to_speech"], output_dir=tmp_path
    )
    with flow_cassette("text-to-speech/success.yaml"):
        message = tool_message(toolkit, "text_to_speech", {"text": "Hello from hf-tools."})
    assert message.status == "success", message.content
    path = message.artifact.path
    assert message.content == f"Generated WAV speech, 0.2 s, 4 KB, saved to {path}"
    assert path.parent == tmp_path and path.name.startswith("audio_") and path.suffix == ".wav"
    assert path.read_bytes() == message.artifact.audio


# ----------------------------------------------------------------------- polling faults


def _submitted(status: str = "starting", **extra: Any) -> dict[str, Any]:
    return {"id": "job42", "status": status, "output": None, "error": None, **extra}


def _replicate(*polls: dict[str, Any], status: int = 201) -> list[dict[str, Any]]:
    submit = interactions(REPLICATE_FLUX)[0]
    submit["response"]["body"]["string"] = json.dumps(_submitted())
    submit["response"]["status"]["code"] = status
    return [submit, *(exchange("GET", f"{PREDICTIONS}/job42", answer=p) for p in polls)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_replicate_job_is_polled_until_it_succeeds(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sleeps: list[float],
    sent: list[HFRequest],
    mode: str,
) -> None:
    url = interactions(REPLICATE_FLUX)[1]["request"]["uri"]
    done = _submitted("succeeded", output=[url])
    flow = _replicate(_submitted("processing"), done)
    client_kw = {"api_key": token, "provider": "replicate"}
    with flow_cassette(LIST_FORM, *flow, interactions(REPLICATE_FLUX)[1]):
        if mode == "sync":
            out = HFClient(**client_kw).run("text-to-image", prompt=FLUX_PROMPT)
        else:
            out = asyncio.run(AsyncHFClient(**client_kw).run("text-to-image", prompt=FLUX_PROMPT))
    assert out.image == download_body(REPLICATE_FLUX)
    assert sleeps == [1.0, 1.0]  # replicate's poll interval, before each poll
    polls = [r for r in sent if r.url == f"{PREDICTIONS}/job42"]
    assert len(polls) == 2 and all(r.method == "GET" for r in polls)
    assert polls[0].headers["authorization"] == f"Bearer {token}"  # polled through the router


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_job_is_an_error_tool_message_with_the_providers_words(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]], mode: str
) -> None:
    failed = _submitted("failed", error="NSFW content detected. Try running it again.")
    toolkit = HuggingFaceToolkit(api_key=token, provider="replicate", tasks=["text-to-image"])
    with flow_cassette(LIST_FORM, *_replicate(failed)):
        args = {"prompt": FLUX_PROMPT}
        message = tool_message(toolkit, "text_to_image", args, mode)
    assert message.status == "error"
    assert "replicate prediction failed: NSFW content detected" in str(message.content)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_job_still_running_at_the_deadline_times_out_naming_the_job(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sleeps: list[float],
    mode: str,
) -> None:
    # The first poll would wait 1 s; the whole call has 0.5 s: no poll is sent.
    client_kw = {"api_key": token, "provider": "replicate", "timeout": 0.5}
    with flow_cassette(LIST_FORM, *_replicate()), pytest.raises(HFTimeoutError) as info:
        if mode == "sync":
            HFClient(**client_kw).run("text-to-image", prompt=FLUX_PROMPT)
        else:
            asyncio.run(AsyncHFClient(**client_kw).run("text-to-image", prompt=FLUX_PROMPT))
    assert "replicate job was still running" in str(info.value)
    assert f"{PREDICTIONS}/job42" in str(info.value)
    assert sleeps == []


def _fal_then_download(status: int = 200, answer: bytes = b"") -> list[dict[str, Any]]:
    call, download = interactions(FAL_FLUX)
    download["response"]["status"]["code"] = status
    if answer:
        download["response"]["body"]["string"] = answer
    return [call, download]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_result_url_that_answers_404_is_an_error_tool_message(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]], mode: str
) -> None:
    toolkit = HuggingFaceToolkit(api_key=token, provider="fal-ai", tasks=["text-to-image"])
    gone = _fal_then_download(404, b"Not Found")
    with flow_cassette(LIST_FORM, *gone):
        args = {"prompt": FLUX_PROMPT}
        message = tool_message(toolkit, "text_to_image", args, mode)
    assert message.status == "error"
    assert "result file https://fal.media/files/" in str(message.content)
    assert "(HTTP 404)" in str(message.content)
    # The provider's result failed: nothing in the LLM's arguments would change that.
    assert "result could not be downloaded" in str(message.content)
    assert "change the arguments" not in str(message.content).lower()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_result_url_on_a_refused_host_is_the_providers_failure_not_the_input(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def private(host: str, port: int, *args: Any, **kw: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(hf_tools.media, "_getaddrinfo", private)
    toolkit = HuggingFaceToolkit(api_key=token, provider="fal-ai", tasks=["text-to-image"])
    call, _download = interactions(FAL_FLUX)
    with flow_cassette(LIST_FORM, call):
        message = tool_message(toolkit, "text_to_image", {"prompt": FLUX_PROMPT}, mode)
    assert message.status == "error"
    content = str(message.content)
    assert "result file https://fal.media/files/" in content and "refused" in content
    assert "Pass a different input" not in content  # MediaError's hint: the LLM's input
    assert "result could not be downloaded" in content


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_oversized_result_file_is_refused_by_max_binary_bytes(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]], mode: str
) -> None:
    client_kw = {"api_key": token, "provider": "fal-ai", "max_binary_bytes": 1000}
    big = _fal_then_download(200, b"\x89PNG" + b"\0" * 50_000)
    with flow_cassette(LIST_FORM, *big), pytest.raises(ResponseTooLargeError) as info:
        if mode == "sync":
            HFClient(**client_kw).run("text-to-image", prompt=FLUX_PROMPT)
        else:
            asyncio.run(AsyncHFClient(**client_kw).run("text-to-image", prompt=FLUX_PROMPT))
    assert info.value.limit == 1000


def test_a_result_url_on_a_private_address_is_never_fetched(
    token: str, flow_cassette: Callable[..., AbstractContextManager[Any]], sent: list[HFRequest]
) -> None:
    call = interactions(FAL_FLUX)[0]
    call["response"]["body"]["string"] = json.dumps({"images": [{"url": "http://127.0.0.1/a.png"}]})
    toolkit = HuggingFaceToolkit(api_key=token, provider="fal-ai", tasks=["text-to-image"])
    with flow_cassette(LIST_FORM, call):
        message = tool_message(toolkit, "text_to_image", {"prompt": FLUX_PROMPT})
    assert message.status == "error"
    assert "not a public address" in str(message.content)
    assert not any("127.0.0.1" in r.url for r in sent)


def test_an_async_cancel_stops_polling_and_cancels_the_providers_job(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls: list[str] = []
    mapping = hub(FLUX, ("replicate", "black-forest-labs/flux-schnell", "live", "text-to-image"))

    def answer(request: httpx2.Request) -> httpx2.Response:
        urls.append(f"{request.method} {request.url}")
        if request.url.host == "huggingface.co":
            return httpx2.Response(200, content=mapping["response"]["body"]["string"])
        return httpx2.Response(201, json=_submitted())

    polling = asyncio.Event()

    async def hang(seconds: float) -> None:
        polling.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(hf_tools.http.send, "_asleep", hang)
    hf_tools.routing.MAPPINGS.clear()  # this test's mapping comes from its own Hub answer
    client = AsyncHFClient(
        api_key=token, provider="replicate", transport=httpx2.MockTransport(answer)
    )

    async def main() -> None:
        task = asyncio.ensure_future(client.run("text-to-image", prompt="a cake"))
        polled = asyncio.ensure_future(polling.wait())
        await asyncio.wait([task, polled], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        polled.cancel()
        assert polling.is_set(), task.exception() if task.done() else "no poll in 10 s"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)

    asyncio.run(main())
    # The Hub lookup, the submit, then no poll: the prediction's cancel instead.
    assert urls[1:] == [
        f"POST {ROUTER}/replicate/v1/models/black-forest-labs/flux-schnell/predictions",
        f"POST {ROUTER}/replicate/v1/predictions/job42/cancel",
    ]


# --------------------------------------------------------------------- settings, routing


def test_the_default_is_auto_with_a_token_and_hf_inference_without() -> None:
    assert Settings.create(api_key="x").provider_for("text-to-image") == "auto"
    assert Settings.create().provider_for("text-to-image") is None  # no token: no lookup
    # An explicit base_url keeps its meaning; a providers entry still routes its task.
    settings = Settings.create(
        api_key="x", base_url="http://localhost:8080", provider="fal-ai",
        providers={"automatic_speech_recognition": "fal-ai"},
    )  # fmt: skip
    assert settings.provider_for("text-to-image") is None
    assert settings.provider_for("automatic-speech-recognition") == "fal-ai"
    assert Settings.create(api_key="x", provider="hf-inference").provider_for("fill-mask") is None


def test_provider_settings_are_checked_and_defaulted(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="provider must be one of auto, hf-inference"):
        Settings.create(provider="fal")
    with pytest.raises(ConfigurationError, match="providers: unknown task 'txt2img'"):
        Settings.create(providers={"txt2img": "fal-ai"})
    with pytest.raises(ConfigurationError, match="provider_order item"):
        Settings.create(provider="auto", provider_order=["auto"])
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example.com/")
    settings = Settings.create(router_url="https://router.example.com/")
    assert settings.hub_url == "https://hub.example.com"
    assert settings.base_url == "https://router.example.com/hf-inference"


def test_a_named_provider_offers_only_the_tasks_it_has_adapters_and_defaults_for() -> None:
    toolkit = HuggingFaceToolkit(api_key="x", provider="fal-ai")
    assert toolkit.tool_names == [
        "automatic_speech_recognition",
        "text_to_image",
        "image_to_image",
        "text_to_video",
        "image_to_video",
        "text_to_speech",
    ]
    with pytest.raises(ConfigurationError, match="no adapter for summarization"):
        HuggingFaceToolkit(api_key="x", provider="fal-ai", tasks=["summarization"])
    # "auto", the default with a token: what hf-inference serves, plus what only providers serve.
    everything = HuggingFaceToolkit(api_key="x", provider="auto").tool_names
    assert HuggingFaceToolkit(api_key="x").tool_names == everything
    hf_inference = HuggingFaceToolkit(api_key="x", provider="hf-inference").tool_names
    assert HuggingFaceToolkit().tool_names == hf_inference  # no token: hf-inference's set
    assert [t for t in everything if t not in hf_inference] == [
        "text_generation",
        "image_to_image",
        "text_to_video",
        "image_to_video",
        "text_to_speech",
    ]


def test_cli_call_takes_a_provider(capsys: pytest.CaptureFixture[str]) -> None:
    from hf_tools.cli import main

    code = main(["call", "summarization", "--args", '{"text": "x"}', "--provider", "fal-ai"])
    assert code == 2
    # The task is asked for by name: the error says who would serve it.
    err = capsys.readouterr().err
    assert err.startswith("provider 'fal-ai' has no adapter for summarization; providers that")
    assert "hf-inference" in err and err.endswith(" [summarization]\n")


# ------------------------------------------------------------------------- core imports


def test_the_core_never_imports_langchain() -> None:
    script = """
import sys
import httpx2
from hf_tools import HFClient

def answer(request):
    if request.url.host == "huggingface.co":
        return httpx2.Response(200, json={"inferenceProviderMapping": [{"provider": "together",
            "providerId": "m", "status": "live", "task": "text-to-image"}]})
    if "together" in str(request.url):
        return httpx2.Response(200, json={"data": [{"b64_json": "iVBORw0KGgo="}]})
    return httpx2.Response(200, json=[[{"label": "POSITIVE", "score": 0.9}]])

client = HFClient(api_key="x", provider="hf-inference", transport=httpx2.MockTransport(answer))
client.run("text-classification", text="I like you")
HFClient(api_key="x", provider="together", transport=httpx2.MockTransport(answer)).run(
    "text-to-image", prompt="a cat")
loaded = sorted(m for m in sys.modules if m.startswith(("langchain", "langsmith")))
assert not loaded, loaded
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- the docs


# ------------------------------------------------- URLs a provider hands back (issue 18)

BFL = "providers/black-forest-labs/text-to-image/flux-dev.yaml"
BFL_HUB = hub(
    "black-forest-labs/FLUX.1-dev", ("black-forest-labs", "flux-dev", "live", "text-to-image")
)
BFL_ARGS = {
    "prompt": "A raccoon driving a truck",
    "width": 256,
    "height": 256,
    "num_inference_steps": 4,
    "seed": 8817,
}


def _bfl_polled_at(polling_url: str, *polls: dict[str, Any]) -> list[dict[str, Any]]:
    submit = interactions(BFL)[0]
    body = {"id": "dd8b", "polling_url": polling_url}
    submit["response"]["body"]["string"] = json.dumps(body)
    return [BFL_HUB, submit, *polls]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_polling_url_on_a_metadata_address_is_refused_as_the_jobs_failure(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sleeps: list[float],
    sent: list[HFRequest],
    mode: str,
) -> None:
    toolkit = HuggingFaceToolkit(api_key=token, provider="black-forest-labs")
    metadata = "http://169.254.169.254/latest/meta-data/iam"
    with flow_cassette(*_bfl_polled_at(metadata)):
        message = tool_message(toolkit, "text_to_image", BFL_ARGS, mode)
    assert message.status == "error"
    content = str(message.content)
    assert "black-forest-labs: the job URL http://169.254.169.254/latest/meta-data/iam" in content
    assert "was refused" in content and "not a public address" in content
    assert not any("169.254" in r.url for r in sent)  # nothing went there


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_403_on_a_polling_url_is_the_jobs_failure_not_an_authentication_error(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sleeps: list[float],
    mode: str,
) -> None:
    poll = "https://api.us1.bfl.ai/v1/get_result?id=dd8b"
    denied = exchange("GET", poll, status=403, answer={"detail": "Forbidden"})
    toolkit = HuggingFaceToolkit(api_key=token, provider="black-forest-labs")
    with flow_cassette(*_bfl_polled_at(poll, denied)):
        message = tool_message(toolkit, "text_to_image", BFL_ARGS, mode)
    assert message.status == "error"  # a tool message: the agent's turn goes on
    assert "the job URL https://api.us1.bfl.ai/v1/get_result could not be fetched (HTTP 403)" in (
        str(message.content)
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_redirect_answering_a_poll_is_an_error_not_more_polling(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sleeps: list[float],
    mode: str,
) -> None:
    moved = exchange("GET", f"{PREDICTIONS}/job42", status=302, answer=_submitted("processing"))
    moved["response"]["headers"]["location"] = ["http://169.254.169.254/"]
    client_kw = {"api_key": token, "provider": "replicate", "timeout": 30.0}
    flow = flow_cassette(LIST_FORM, *_replicate(), moved, allow_playback_repeats=True)
    with flow, pytest.raises(JobFailedError) as info:
        if mode == "sync":
            HFClient(**client_kw).run("text-to-image", prompt=FLUX_PROMPT)
        else:
            asyncio.run(AsyncHFClient(**client_kw).run("text-to-image", prompt=FLUX_PROMPT))
    assert "answered HTTP 302 (a redirect)" in str(info.value)
    assert sleeps == [1.0]  # one poll, no more


@pytest.mark.parametrize(
    "provider_id", ["../../x", "/../../etc/passwd", "a?x=1", "a#b", "a\x00b", "a/%2e%2e/b"]
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_provider_id_that_is_not_a_plain_path_is_refused_before_any_call(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sent: list[HFRequest],
    provider_id: str,
    mode: str,
) -> None:
    mapping = hub(FLUX, ("fal-ai", provider_id, "live", "text-to-image"))
    toolkit = HuggingFaceToolkit(api_key=token, provider="auto", tasks=["text-to-image"])
    with flow_cassette(mapping):
        message = tool_message(toolkit, "text_to_image", {"prompt": FLUX_PROMPT}, mode)
    assert message.status == "error"
    content = str(message.content)
    assert "is unavailable right now" in content and FLUX in content
    assert "not a plain URL path: refused" in content
    assert [r.method for r in sent] == ["GET"]  # the Hub lookup only: no POST anywhere


@pytest.mark.parametrize("polling_url", ["https://bad host/x", "https://a\x00b.example/x"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_malformed_polling_url_is_the_jobs_failure_not_a_raw_exception(
    token: str,
    flow_cassette: Callable[..., AbstractContextManager[Any]],
    sleeps: list[float],
    polling_url: str,
    mode: str,
) -> None:
    toolkit = HuggingFaceToolkit(api_key=token, provider="black-forest-labs")
    with flow_cassette(*_bfl_polled_at(polling_url)):
        message = tool_message(toolkit, "text_to_image", BFL_ARGS, mode)
    assert message.status == "error"
    assert "black-forest-labs: the job URL" in str(message.content)
    assert "was refused: the URL" in str(message.content)  # bad host name / not a valid URL
