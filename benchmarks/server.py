"""The benchmark server: keep-alive HTTP/1.1 on 127.0.0.1, run as its own process.

``python -m benchmarks.server --delay 0.02 --lifetime 900`` prints its port, then answers every
POST with the same JSON body (one write, TCP_NODELAY), after ``delay`` seconds. It stops by
itself after ``lifetime`` seconds, so a crashed benchmark never leaves it behind.

A separate process keeps the server's work off the client's GIL: in one process, server and
client take turns and the client's numbers include the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys

BODY = b'[{"label":"POSITIVE","score":0.9998695850372314},{"label":"NEGATIVE","score":0.0001304}]'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
            writer.write(RESPONSE)
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
