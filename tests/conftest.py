"""Shared fixtures: offline cassettes, a toolkit with a dummy token, waits that do not sleep."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

import hf_tools.http
import hf_tools.media
from hf_tools.http import HFRequest, RawResponse
from hf_tools.langchain.toolkit import HuggingFaceToolkit
from hf_tools.testing import DUMMY_TOKEN, is_recording, use_cassette

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
FIXTURES = ROOT / "tests" / "fixtures"


def task_toolkit(task: str, token: str, **kw: Any) -> HuggingFaceToolkit:
    """A toolkit with the one tool of ``task``; an endpoint-only task gets its example URL."""
    from hf_tools import REGISTRY

    spec = REGISTRY[task]
    models = {task: str(spec.example_endpoint)} if spec.needs_endpoint else None
    if spec.hf_inference is None:  # only providers serve it: its cassette maps it on the Hub
        kw.setdefault("provider", "auto")
    return HuggingFaceToolkit(api_key=token, tasks=[task], models=models, **kw)


@pytest.fixture(autouse=True)
def _fresh_mappings() -> Iterator[None]:
    """Each test starts with an empty Hub mapping cache, so its cassette's lookup is played."""
    from hf_tools.routing import MAPPINGS

    MAPPINGS.clear()
    yield
    MAPPINGS.clear()


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Result hosts (fal.media, replicate.delivery) resolve to a public address, offline."""

    def getaddrinfo(host: str, port: int, *args: Any, **kw: Any) -> Any:
        if host.replace(".", "").isdigit():  # a literal IP is judged as it is
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(hf_tools.media, "_getaddrinfo", getaddrinfo)


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
        monkeypatch.setattr(hf_tools.http, "_sleep", waits.append)
        monkeypatch.setattr(hf_tools.http, "_asleep", _asleep)
    return waits


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[HFRequest]:
    """Every request that actually went to the (replayed) wire, in order."""
    requests: list[HFRequest] = []
    real_sync, real_async = hf_tools.http._exchange_sync, hf_tools.http._exchange_async

    def _sync(client: Any, request: HFRequest) -> RawResponse:
        requests.append(request)
        return real_sync(client, request)

    async def _async(client: Any, request: HFRequest) -> RawResponse:
        requests.append(request)
        return await real_async(client, request)

    monkeypatch.setattr(hf_tools.http, "_exchange_sync", _sync)
    monkeypatch.setattr(hf_tools.http, "_exchange_async", _async)
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
    tk = HuggingFaceToolkit(api_key=token, allowed_roots=[FIXTURES, ROOT])
    yield tk
    tk.close()
