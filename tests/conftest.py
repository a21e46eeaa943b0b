"""Shared fixtures: offline cassettes, a toolkit with a dummy token, waits that do not sleep."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import yaml

import hf_tools.http.send
import hf_tools.media
from hf_tools.http import HFRequest, RawResponse
from hf_tools.langchain.toolkit import HuggingFaceToolkit
from hf_tools.testing import DUMMY_TOKEN, is_recording, seed_mappings, use_cassette

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
FIXTURES = ROOT / "tests" / "fixtures"


def _recorded_models() -> dict[str, str]:
    from hf_tools import REGISTRY

    models = {s.task: s.default_model for s in REGISTRY.values() if not s.needs_endpoint}
    # Recorded on hf-inference before its default moved to a provider.
    return models | {"text-generation": "google/flan-t5-xxl"}


RECORDED_MODELS = _recorded_models()
"""Every task's model as its cassettes were recorded (hf-inference, 2025). Named explicitly,
they make the toolkit offer the tasks no provider serves by default, as the tests need."""


def _every_tool() -> dict[str, Any]:
    from hf_tools import REGISTRY

    endpoints = {s.task: "https://e.example/x" for s in REGISTRY.values() if s.needs_endpoint}
    # Only providers speak these (no hf-inference format): a named model alone cannot route.
    by_provider = {s.task: "auto" for s in REGISTRY.values() if s.hf_inference is None}
    return {"models": RECORDED_MODELS | endpoints, "providers": by_provider}


EVERY_TOOL = _every_tool()
"""Toolkit arguments that offer every tool of the registry (no request made to build it)."""


@contextlib.contextmanager
def serve_app(app: Any, **config: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL.

    ``config`` goes to ``uvicorn.Config`` (e.g. ``http=`` a protocol class). Bounded: the
    server must start within 5 s, and it is stopped (and its thread gone) on exit. Tests that
    use it need ``@pytest.mark.allow_hosts(["127.0.0.1"])``.
    """
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # ws="none", as hf-tools serve runs it (no WebSocket stack loaded).
    config = {"ws": "none", **config}
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started, "uvicorn did not start in 5 s"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
    assert not thread.is_alive()


@functools.cache
def _opens_with_a_hub_lookup(task: str) -> bool:
    path = CASSETTES / task / "success.yaml"
    first = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"][0]["request"]
    return str(first["uri"]).startswith("https://huggingface.co/api/models/")


def provider_flow(spec: Any) -> bool:
    """``spec``'s success cassette is a provider's flow, not an hf-inference call.

    Only providers serve those tasks by default (speech, image edits, video; hf-inference
    speaks some of them for a model the user names): the cassette opens with the Hub mapping
    lookup and its result file comes from a provider's CDN.
    """
    return _opens_with_a_hub_lookup(spec.task)


def task_toolkit(task: str, token: str, **kw: Any) -> HuggingFaceToolkit:
    """A toolkit with the one tool of ``task``; an endpoint-only task gets its example URL."""
    from hf_tools import REGISTRY

    spec = REGISTRY[task]
    model = str(spec.example_endpoint) if spec.needs_endpoint else RECORDED_MODELS[task]
    if provider_flow(spec):  # its cassette maps it on the Hub
        kw.setdefault("provider", "auto")
    return HuggingFaceToolkit(api_key=token, tasks=[task], models={task: model}, **kw)


@pytest.fixture(autouse=True)
def _fresh_mappings() -> Iterator[None]:
    """Each test starts with the recorded Hub mappings only (cassettes/mappings.json).

    "auto", the default with a token, looks a model up on the Hub before its first call: the
    models the cassettes call on hf-inference are mapped there, as when they were recorded,
    so no test makes that lookup unless it asks for it (a cassette that recorded a lookup
    replays it: ``use_cassette`` drops its model from the cache).
    """
    from hf_tools.routing import MAPPINGS

    MAPPINGS.clear()
    seed_mappings(library_dir=CASSETTES)
    yield
    MAPPINGS.clear()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may pick up a real token from the developer's shell (unless recording)."""
    if not is_recording():
        monkeypatch.delenv("HF_TOKEN", raising=False)
        # Nor the token file `hf auth login` wrote on this machine.
        monkeypatch.setenv("HF_TOKEN_PATH", "/nonexistent/hf-tools-tests/token")


@pytest.fixture
def token() -> str:
    return os.environ["HF_TOKEN"] if is_recording() else DUMMY_TOKEN


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry waits instead of sleeping, so retry tests take no wall time."""
    waits: list[float] = []

    async def _asleep(seconds: float) -> None:
        waits.append(seconds)

    if not is_recording():
        monkeypatch.setattr(hf_tools.http.send, "_sleep", waits.append)
        monkeypatch.setattr(hf_tools.http.send, "_asleep", _asleep)
    return waits


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[HFRequest]:
    """Every request that actually went to the (replayed) wire, in order."""
    requests: list[HFRequest] = []
    real_sync, real_async = hf_tools.http.send._exchange_sync, hf_tools.http.send._exchange_async

    def _sync(client: Any, request: HFRequest) -> RawResponse:
        requests.append(request)
        return real_sync(client, request)

    async def _async(client: Any, request: HFRequest) -> RawResponse:
        requests.append(request)
        return await real_async(client, request)

    monkeypatch.setattr(hf_tools.http.send, "_exchange_sync", _sync)
    monkeypatch.setattr(hf_tools.http.send, "_exchange_async", _async)
    # URLs a server handed back (and media URLs) go out through the pinned downloader, each
    # hop built once its address passed the check.
    pinned = hf_tools.media._pinned_request

    def _pinned(client: Any, target: Any, request: HFRequest) -> Any:
        requests.append(request)
        return pinned(client, target, request)

    monkeypatch.setattr(hf_tools.media, "_pinned_request", _pinned)
    return requests


@pytest.fixture
def cassette() -> Callable[..., AbstractContextManager[Any]]:
    """``with cassette("text-classification/success"):`` replays cassettes/<name>.yaml.

    Several names replay their interactions together (e.g. one agent run, several tools).
    """

    def _use(*names: str, **kw: Any) -> AbstractContextManager[Any]:
        paths = [f"{name}.yaml" for name in names]
        return use_cassette(*paths, library_dir=CASSETTES, **kw)

    return _use


@pytest.fixture
def toolkit(token: str) -> Iterator[HuggingFaceToolkit]:
    tk = HuggingFaceToolkit(api_key=token, allowed_roots=[FIXTURES, ROOT], models=RECORDED_MODELS)
    yield tk
    tk.close()
