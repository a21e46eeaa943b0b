"""The benchmark server: keep-alive HTTP/1.1 on 127.0.0.1, run as its own process.

``python -m benchmarks.server --delay 0.02 --lifetime 900`` prints its port, then answers every
POST to ``/predict`` with the same JSON body (one write, TCP_NODELAY), after ``delay`` seconds.
It stops by itself after ``lifetime`` seconds, so a crashed benchmark never leaves it behind.

Other paths play two Inference Providers as the router serves them (:func:`provider_answer`):
a fal-style call answering a result URL, a replicate-style prediction polled once, the result
file both name, and the Hub's model info mapping the model to both.

A separate process keeps the server's work off the client's GIL: in one process, server and
client take turns and the client's numbers include the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import subprocess
import sys
import zlib

BODY = b'[{"label":"POSITIVE","score":0.9998695850372314},{"label":"NEGATIVE","score":0.0001304}]'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


def _png(size: int = 64) -> bytes:
    """A valid ``size`` x ``size`` grey PNG (a few hundred bytes): the generated "image"."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\0" + bytes([128]) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


IMAGE = _png()
FAL_MODEL, REPLICATE_MODEL = "fal-ai/flux/schnell", "black-forest-labs/flux-schnell"
HUB_MODEL = "black-forest-labs/FLUX.1-schnell"
JOB = "bench-job-1"


def _answer(status: int, body: bytes, ctype: str = "application/json") -> bytes:
    reason = {200: "OK", 201: "Created", 404: "Not Found"}[status]
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\n"
    return (head + f"content-length: {len(body)}\r\n\r\n").encode() + body


def provider_answer(method: bytes, path: bytes, port: int) -> bytes:
    """The answer of the provider-style routes (recorded shapes, this server's URLs)."""
    file_url = f"http://127.0.0.1:{port}/files/out-0.png"
    if path.startswith(b"/files/"):
        return _answer(200, IMAGE, "image/png")
    if path.startswith(b"/api/models/"):
        mapping = [
            {"provider": "fal-ai", "providerId": FAL_MODEL, "status": "live"},
            {"provider": "replicate", "providerId": REPLICATE_MODEL, "status": "live"},
        ]
        body = {"id": HUB_MODEL, "inferenceProviderMapping": [
            {**m, "task": "text-to-image"} for m in mapping
        ]}  # fmt: skip
        return _answer(200, json.dumps(body).encode())
    if path.startswith(b"/fal-ai/"):
        image = {"url": file_url, "width": 64, "height": 64, "content_type": "image/png"}
        body = {"images": [image], "timings": {"inference": 0.35}, "seed": 1, "prompt": "p"}
        return _answer(200, json.dumps(body).encode())
    job = {"id": JOB, "model": REPLICATE_MODEL, "error": None, "logs": ""}
    if method == b"POST" and path.startswith(b"/replicate/"):
        return _answer(201, json.dumps({**job, "status": "starting", "output": None}).encode())
    if path == f"/replicate/v1/predictions/{JOB}".encode():
        body = {**job, "status": "succeeded", "output": [file_url]}
        return _answer(200, json.dumps(body).encode())
    return _answer(404, b'{"error": "not found"}')


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    port = sock.getsockname()[1]
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            if delay:
                await asyncio.sleep(delay)
            method, path, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            if path == b"/predict":
                writer.write(RESPONSE)
            else:
                writer.write(provider_answer(method, path, port))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(delay: float, lifetime: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, delay), "127.0.0.1", 0, backlog=512
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.sleep(lifetime)


class ServerProcess:
    """The server in a child process; ``url`` to call it, ``stop()`` to end it."""

    def __init__(self, delay: float = 0.0, lifetime: float = 900.0) -> None:
        args = ["--delay", str(delay), "--lifetime", str(lifetime)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.port}/predict"

    @property
    def root(self) -> str:
        """The server itself: the router and the Hub of the provider benchmarks."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """End the child process (only this one) and reap it."""
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--lifetime", type=float, default=900.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.delay, args.lifetime))


if __name__ == "__main__":
    main()
