"""A loopback hf-inference server for bulk runs: keep-alive HTTP/1.1 on 127.0.0.1, asyncio.

Answers text-classification (``POST /models/{model}``) with the recorded body's shape
(``[[{label, score}, ...]]``) and a label naming the text (``L-<text>``), so each row's answer
is checkable; text-to-image for the model ``org/painter`` (a small PNG); feature extraction
(``/pipeline/feature-extraction``) with one 4-d vector per text, for a string or a list.
Behaviours, all optional: ``delay`` per request, a rate limit (``rate`` requests/s, then
429 with ``Retry-After``), ``pay_after`` successes then 402, and 400 for any text containing
``FAIL``. ``log`` records ``(time, status)`` of every answer.

In-process: ``with BatchServer(...) as server: server.url``. As a process (benchmarks):
``python -m tests._batch_server --delay 0.02 --lifetime 600`` prints its port, stops by
itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

IMAGE = (Path(__file__).parent / "fixtures" / "small.png").read_bytes()
_REASONS = {200: "OK", 400: "Bad Request", 402: "Payment Required", 429: "Too Many Requests"}


def vector(text: str) -> list[float]:
    """The 4-d "embedding" of ``text``: a function of the text, so answers are checkable."""
    return [float(len(text)), float(sum(map(ord, text)) % 97), 1.0, 0.5]


class BatchServer:
    """The server and its behaviours; start with ``with`` (a thread) or :meth:`serve`."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        rate: float | None = None,
        retry_after: str = "1",
        pay_after: int | None = None,
        lifetime: float = 60.0,
    ) -> None:
        self.delay = delay
        self.rate = rate
        self.retry_after = retry_after
        self.pay_after = pay_after
        self.lifetime = lifetime
        self.log: list[tuple[float, int]] = []
        self.successes = 0
        self.port = 0
        self._tokens = rate / 10 if rate else 0.0
        self._refilled = time.monotonic()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL (give it as ``base_url``)."""
        return f"http://127.0.0.1:{self.port}"

    def _admit(self) -> bool:
        """Token bucket: ``rate``/s, a burst of a tenth of a second's worth."""
        if not self.rate:
            return True
        now = time.monotonic()
        burst = max(1.0, self.rate / 10)
        self._tokens = min(burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request."""
        if not self._admit():
            return 429, {"retry-after": self.retry_after}, b'{"error":"rate limit reached"}'
        if self.pay_after is not None and self.successes >= self.pay_after:
            return 402, {}, b'{"error":"You have exceeded your monthly included credits"}'
        if path.endswith("/painter"):  # text-to-image: the image's bytes
            self.successes += 1
            return 200, {"content-type": "image/png"}, IMAGE
        inputs = json.loads(body)["inputs"]
        texts = inputs if isinstance(inputs, list) else [inputs]
        if any("FAIL" in t for t in texts):
            return 400, {}, b'{"error":"the input is not valid"}'
        self.successes += 1
        if path.endswith("/pipeline/feature-extraction"):
            vectors = [vector(t) for t in texts]
            return 200, {}, json.dumps(vectors if isinstance(inputs, list) else vectors[0]).encode()
        labels = [
            [{"label": f"L-{t}", "score": 0.99}, {"label": "OTHER", "score": 0.01}] for t in texts
        ]
        return 200, {}, json.dumps(labels).encode()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                if self.delay:
                    await asyncio.sleep(self.delay)
                status, headers, payload = self.answer(path, body)
                self.log.append((time.monotonic(), status))
                kind = headers.pop("content-type", "application/json")
                extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: {kind}\r\n"
                    f"{extra}content-length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()

    async def serve(self, announce: bool = False) -> None:
        """Serve until stopped or ``lifetime`` seconds have passed."""
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = server.sockets[0].getsockname()[1]
        if announce:
            print(self.port, flush=True)
        self._ready.set()
        async with server:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.lifetime)
            # Clients still connected (a Ray worker outlives the job): closed while the loop runs.
            for task in list(self._clients):
                task.cancel()
            await asyncio.gather(*self._clients, return_exceptions=True)

    def __enter__(self) -> BatchServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self.serve(),), daemon=True
        )
        self._thread.start()
        assert self._ready.wait(5), "the loopback server did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._stop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
        self._loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--lifetime", type=float, default=600.0)
    ns = parser.parse_args()
    asyncio.run(BatchServer(delay=ns.delay, lifetime=ns.lifetime).serve(announce=True))
    sys.exit(0)


if __name__ == "__main__":
    main()
