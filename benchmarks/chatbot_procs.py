"""Processes for chatbot replica tests and benchmarks: a scripted chat model and server replicas.

``ModelProcess`` runs ``python -m benchmarks.chatbot_procs`` on 127.0.0.1: an OpenAI-compatible
``/v1/chat/completions`` (JSON, or SSE with ``"stream": true``) that answers
``re: <last user message> [<messages seen>]`` after ``delay`` seconds, plus the seconds a
``sleep=<s>`` word in the message asks for. ``GET /stats`` tells how many calls it got and
how many are running. It stops by itself after ``lifetime`` seconds.

``Replica`` runs ``python -m hf_tools.serve`` on a free loopback port against it. Both
die with the process that started them (``PR_SET_PDEATHSIG``), so a crashed test or benchmark
leaves nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
_SLEEP = re.compile(r"\bsleep=(\d+(?:\.\d+)?)\b")


def child_env(**extra: str) -> dict[str, str]:
    """This environment for a child Python, without HF_TOOLS_ and HF_TOKEN settings.

    The child may keep compiled bytecode (in a cache folder under the temp dir, never in the
    tree): where PYTHONDONTWRITEBYTECODE is set, each start would compile LangChain anew,
    seconds of CPU per process.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_TOOLS_", "HF_TOKEN"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(
        Path(tempfile.gettempdir()) / f"hf-tools-pycache-{os.getuid()}"
    )
    return {**env, **extra}


def answer_to(text: str, seen: int) -> str:
    """What the scripted model answers to ``text`` when sent ``seen`` messages (no system)."""
    return f"re: {text} [{seen}]"


class _Model:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0
        self.running = 0
        self.seconds: dict[str, float] = {}  # each user message's time in here, request to reply

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ValueError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, path, *_ = head.split(b"\r\n", 1)[0].decode().split(" ")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                if method == "GET" and path == "/stats":
                    stats = {"calls": self.calls, "running": self.running}
                    writer.write(_response(json.dumps(stats).encode(), "application/json"))
                elif method == "GET" and path == "/seconds":
                    writer.write(_response(json.dumps(self.seconds).encode(), "application/json"))
                else:
                    writer.write(await self._complete(json.loads(body or b"{}")))
                await writer.drain()
        writer.close()

    async def _complete(self, request: dict[str, Any]) -> bytes:
        started = time.perf_counter()
        self.calls += 1
        self.running += 1
        try:
            messages = [m for m in request.get("messages", []) if m.get("role") != "system"]
            text = str(messages[-1].get("content", "")) if messages else ""
            sleep = _SLEEP.search(text)
            await asyncio.sleep(self.delay + (float(sleep[1]) if sleep else 0.0))
        finally:
            self.running -= 1
        self.seconds[text] = time.perf_counter() - started
        reply = answer_to(text, len(messages))
        model = request.get("model", "scripted")
        if not request.get("stream"):
            message = {"role": "assistant", "content": reply}
            whole = {"id": "c", "model": model, "choices": [_choice("message", message, "stop")]}
            return _response(json.dumps(whole).encode(), "application/json")
        words = reply.split(" ")
        chunks = [
            {"id": "c", "model": model, "choices": [_choice("delta", {"content": w + " "}, None)]}
            for w in words[:-1]
        ]
        last = {"role": "assistant", "content": words[-1]}
        chunks.append({"id": "c", "model": model, "choices": [_choice("delta", last, "stop")]})
        events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return _response(events.encode(), "text/event-stream")


def _choice(key: str, message: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"index": 0, key: message, "finish_reason": finish}


def _response(body: bytes, content_type: str) -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def _serve(delay: float, lifetime: float) -> None:
    model = _Model(delay)
    server = await asyncio.start_server(model.handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.sleep(lifetime)


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills it when the parent dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ModelProcess:
    """The scripted chat model in a child process; ``url`` is its base (no ``/v1``)."""

    def __init__(self, delay: float = 0.0, lifetime: float = 900.0) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.chatbot_procs",
                f"--delay={delay}",
                f"--lifetime={lifetime}",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=child_env(),
            preexec_fn=_die_with_parent,
        )
        assert self._process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self._process.stdout.readline())}"

    def stats(self) -> dict[str, int]:
        """``{"calls": ..., "running": ...}``."""
        answer: dict[str, int] = httpx.get(f"{self.url}/stats", timeout=5).json()
        return answer

    def seconds(self) -> dict[str, float]:
        """Each user message's time in the model (the last call that had it last)."""
        answer: dict[str, float] = httpx.get(f"{self.url}/seconds", timeout=30).json()
        return answer

    def wait_running(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` calls are in progress (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.stats()["running"] < count:
            assert time.monotonic() < deadline, f"the model never ran {count} calls at once"
            time.sleep(0.02)

    def stop(self) -> None:
        """End the process."""
        self._process.kill()
        self._process.wait(timeout=10)
        assert self._process.stdout is not None
        self._process.stdout.close()


@contextlib.contextmanager
def postgres_schema(url: str, prefix: str = "scratch") -> Iterator[str]:
    """``url`` with its connections in a new empty schema, dropped (with its tables) after."""
    import psycopg

    schema = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            separator = "&" if "?" in url else "?"
            yield f"{url}{separator}options={quote(f'-c search_path={schema}')}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[Any], deadline: float, what: str) -> None:
    """Until ``GET url/health`` answers 200; RuntimeError if ``process`` ends or ``deadline``."""
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def stop(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM ``process``, SIGKILL it if it is still there after ``grace`` seconds; reap it."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


class Replica:
    """``python -m hf_tools.serve`` on a free loopback port; ``ready()`` waits for it.

    Start replicas from the main thread: the kill-with-parent signal follows the thread that
    started the process (Linux), so one started from a thread dies when that thread ends.
    """

    def __init__(
        self,
        store: str,
        model: ModelProcess,
        *,
        keys: Sequence[str] = (),
        log: Path | None = None,
        flags: Sequence[str] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = child_env(HF_TOOLS_API_KEYS=",".join(keys))
        self._log: IO[bytes] | None = log.open("ab") if log else None
        command = [sys.executable, "-m", "hf_tools.serve", "--port", str(self.port)]
        command += ["--store", store, "--chat-base-url", f"{model.url}/v1"]
        command += ["--base-url", model.url, "--tasks", "text-classification", *flags]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=self._log or subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    @classmethod
    def started(cls, count: int, *args: Any, timeout: float = 90.0, **kw: Any) -> list[Replica]:
        """``count`` replicas started at once (each takes seconds to import), all ready."""
        replicas = [cls(*args, **kw) for _ in range(count)]
        try:
            for replica in replicas:
                replica.ready(timeout)
        except BaseException:
            for replica in replicas:
                replica.kill()
            raise
        return replicas

    def ready(self, timeout: float = 90.0) -> None:
        """Until ``GET /health`` answers (RuntimeError if the process ends or ``timeout``)."""
        deadline = time.monotonic() + timeout
        what = f"the replica on port {self.port} (see its log)"
        wait_healthy(self.url, self.process, deadline, what)

    def kill(self) -> None:
        """``kill -9``: no cleanup of any kind runs in the server."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


def main() -> None:
    parser = argparse.ArgumentParser(description="A scripted OpenAI-compatible chat model.")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument("--lifetime", type=float, default=900.0, help="seconds before it stops")
    args = parser.parse_args()
    asyncio.run(_serve(args.delay, args.lifetime))


if __name__ == "__main__":
    main()
