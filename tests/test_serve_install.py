"""``hf-tools serve`` as a user gets it: the wheel in a bare venv, run from another directory.

The wheel is built from this checkout and installed with its ``server`` extra (the package
index, or uv's cache, gives the dependencies: skipped, saying why, when it is unreachable);
the installed ``hf-tools serve`` then answers one turn from a scripted OpenAI-compatible chat
model on loopback, with its conversations in a SQLite file of the directory it runs in (or on
the test Postgres when ``HF_TOOLS_TEST_POSTGRES`` is set). Bounded: 60 s in all.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.chatbot_procs import (
    ModelProcess,
    answer_to,
    child_env,
    free_port,
    stop,
    wait_healthy,
)
from hf_tools.cli import main as cli_main

from .conftest import ROOT
from .test_store import POSTGRES, postgres_schema

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1", "::1"])]

_BUDGET = 60.0  # seconds for the whole install test: build, venv, install, start, one turn
# What uv says when the package index cannot be reached (then the test is skipped).
_OFFLINE = ("failed to fetch", "network", "connect", "dns error", "timed out", "offline")


def _uv() -> str | None:
    local = ROOT / ".uv" / "bin" / "uv"
    return str(local) if local.is_file() else shutil.which("uv")


def _run(command: list[str], deadline: float, **kw: object) -> subprocess.CompletedProcess[str]:
    """``command``, within what is left of the budget; skips when the index is unreachable."""
    left = deadline - time.monotonic()
    assert left > 0, f"out of time before {command[:3]}"
    done = subprocess.run(command, capture_output=True, text=True, timeout=left, check=False, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        said = (done.stdout + done.stderr).lower()
        if any(word in said for word in _OFFLINE):
            pytest.skip(f"the package index is unreachable: {done.stderr.strip()[-300:]}")
        pytest.fail(f"{' '.join(command[:4])} failed:\n{done.stdout}\n{done.stderr}")
    return done


@contextlib.contextmanager
def _store(workdir: Path) -> Iterator[list[str]]:
    """The ``--store`` flags: the test Postgres when there is one, else the default file."""
    if POSTGRES:
        with postgres_schema() as url:
            yield ["--store", url]
    else:
        yield []  # sqlite:///chatbot.db, in the directory the server runs in


def test_the_installed_wheel_serves_a_turn_from_another_directory(tmp_path: Path) -> None:
    uv = _uv()
    if uv is None:
        pytest.skip("no uv to build and install the wheel (make bootstraps one in .uv/)")
    deadline = time.monotonic() + _BUDGET
    dist = tmp_path / "dist"
    _run([uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)], deadline, cwd=ROOT)
    (wheel,) = dist.glob("hf_tools-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # The web page's files are package data: in the wheel, beside the server's modules.
    for name in ("index.html", "app.js", "style.css", "icon.svg"):
        assert f"hf_tools/serve/web/{name}" in names, name
    assert not any(n.startswith("agents/") for n in names)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], deadline)
    python = venv / "bin" / "python"
    _run([uv, "pip", "install", "--python", str(python), f"{wheel}[server]"], deadline)
    workdir = tmp_path / "elsewhere"  # no checkout here: only the installed package
    workdir.mkdir()
    env = child_env()
    env.pop("PYTHONPATH", None)
    where = _run(
        [str(python), "-c", "import hf_tools.serve; print(hf_tools.serve.__file__)"],
        deadline,
        cwd=workdir,
        env=env,
    )
    assert where.stdout.strip().startswith(str(venv))
    model = ModelProcess(lifetime=_BUDGET)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        with _store(workdir) as store:
            command = [str(venv / "bin" / "hf-tools"), "serve", "--port", str(port), *store]
            command += ["--chat-base-url", f"{model.url}/v1", "--base-url", model.url]
            server = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                wait_healthy(url, server, deadline, "hf-tools serve")
                made = httpx.post(f"{url}/sessions", json={}, timeout=10)
                assert made.status_code == 201
                said = httpx.post(
                    f"{url}/sessions/{made.json()['id']}/messages",
                    json={"message": "hello from elsewhere"},
                    timeout=max(1.0, deadline - time.monotonic()),
                )
                assert said.status_code == 200, said.text
                assert said.json()["answer"] == answer_to("hello from elsewhere", 1)
                page = httpx.get(f"{url}/", timeout=10)
                assert page.status_code == 200 and 'src="/web/app.js"' in page.text
                assert httpx.get(f"{url}/web/app.js", timeout=10).status_code == 200
            finally:
                stop(server)
                assert server.stderr is not None
                server.stderr.close()
        if not POSTGRES:
            assert (workdir / "chatbot.db").is_file()  # its store, where it was started
    finally:
        model.stop()
    assert time.monotonic() < deadline


def test_serve_without_the_server_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A module set to None in sys.modules is one that is not installed, as find_spec sees it.
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert cli_main(["serve", "--store", "memory"]) == 2
    err = capsys.readouterr().err
    assert (
        err == 'hf-tools serve needs uvicorn (the server extra): pip install "hf-tools[server]"\n'
    )


def test_hf_tools_serve_runs_the_server_with_its_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append({"app": app, **kw}))
    monkeypatch.delenv("HF_TOOLS_API_KEYS", raising=False)
    flags = ["--store", "memory", "--port", "8123", "--max-history", "6"]
    flags += ["--chat-base-url", "http://127.0.0.1:9/v1", "--base-url", "http://127.0.0.1:9"]
    assert cli_main(["serve", *flags]) == 0
    (run,) = served
    assert run["port"] == 8123 and run["host"] == "127.0.0.1"
    assert run["app"].state.sessions.max_history == 6  # type: ignore[attr-defined]


def test_hf_tools_assistant_is_the_terminal_assistant(monkeypatch: pytest.MonkeyPatch) -> None:
    import hf_tools.assistant

    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(hf_tools.assistant, "run", lambda ns: seen.append(ns) or 0)
    assert cli_main(["assistant", "--tasks", "text-classification", "--no-history"]) == 0
    assert seen[0].tasks == "text-classification" and seen[0].no_history


def test_mcp_without_the_mcp_extra_lists_its_help_and_says_how_to_install_it() -> None:
    # A fresh interpreter, so no test has imported the SDK yet; None in sys.modules is a
    # package that is not installed, as both import and find_spec see it.
    script = (
        "import sys; sys.modules['mcp'] = None\n"
        "from hf_tools.cli import main\n"
        "try:\n"
        "    main(['mcp', '--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "sys.exit(main(['mcp', '--family', 'text']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert "--resource-mb" in done.stdout
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        'hf-tools mcp needs the MCP SDK (the mcp extra): pip install "hf-tools[mcp]"\n'
    )
