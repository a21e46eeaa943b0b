"""Chatbot server throughput: concurrent sessions through replicas on SQLite and on Postgres.

``python -m benchmarks.chatbot_bench [--sessions 200] [--turns 5] [--delay 0.05]
[--postgres URL]`` runs, against a scripted OpenAI-compatible model that adds ``delay`` seconds
to every call (``benchmarks.chatbot_procs``):

* memory, one replica: the baseline, what the agent and HTTP cost without a store;
* SQLite, one replica (``sqlite:///<tmp>/chat.db``);
* Postgres, two replicas (``--postgres`` or ``HF_TOOLS_TEST_POSTGRES``; a schema of its own,
  dropped afterwards; skipped, saying so, without a URL).

Every session has its own API key and sends its turns one after another, each to the next
replica in turn (so on two replicas every turn follows one recorded by the other). It reports
turns per second, the p50 and p99 of the server's overhead (a turn's latency minus the time its
model call took inside the model server), the failed requests, and, from each session's history
read back at the end, the messages lost or duplicated (both must be 0). Not a test: the numbers
depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.chatbot_procs import ModelProcess, Replica, answer_to, postgres_schema


@dataclass
class Outcome:
    """What one configuration measured."""

    name: str
    turns: int = 0
    seconds: float = 0.0
    latency: dict[str, float] = field(default_factory=dict)  # by user message
    overheads: list[float] = field(default_factory=list)
    failed: int = 0
    lost: int = 0
    duplicated: int = 0

    def row(self) -> str:
        """One Markdown table row."""
        ordered = sorted(self.overheads) or [0.0]
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        rate = self.turns / self.seconds if self.seconds else 0.0
        return (
            f"| {self.name} | {self.turns} | {rate:.0f} | {p50:.1f} | {p99:.1f} | {self.failed}"
            f" | {self.lost} | {self.duplicated} |"
        )


HEADER = (
    "| store, replicas | turns | turns/s | overhead p50 ms | overhead p99 ms | failed"
    " | lost | duplicated |\n|---|---|---|---|---|---|---|---|"
)


def _expected(session: int, turns: int) -> list[str]:
    texts = [f"s{session} t{t}" for t in range(turns)]
    return [part for t, text in enumerate(texts) for part in (text, answer_to(text, 2 * t + 1))]


_IDLE = 2.0  # seconds after which a kept-alive connection is opened anew (uvicorn: 5)


class _Connection:
    """One keep-alive HTTP/1.1 connection, as lean as a client gets.

    httpx spends milliseconds of CPU per request here: with hundreds of requests at once the
    client, not the server, would set the numbers.
    """

    def __init__(self, url: str, key: str) -> None:
        self.host = url.removeprefix("http://")
        self._head = f"host: {self.host}\r\nauthorization: Bearer {key}\r\n"
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._used = 0.0

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """The status and the parsed JSON body (None when empty)."""
        if self._streams is not None and time.monotonic() - self._used > _IDLE:
            self.close()  # the server may be closing it: never send a turn into that race
        if self._streams is None:
            name, port = self.host.split(":")
            self._streams = await asyncio.open_connection(name, int(port))
        reader, writer = self._streams
        data = b"" if body is None else json.dumps(body).encode()
        kind = "content-type: application/json\r\n" if body is not None else ""
        head = f"{method} {path} HTTP/1.1\r\n{self._head}{kind}content-length: {len(data)}\r\n\r\n"
        writer.write(head.encode() + data)
        lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        length = next(int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length"))
        payload = await reader.readexactly(length)
        self._used = time.monotonic()
        return int(lines[0].split(" ")[1]), json.loads(payload) if payload else None

    def close(self) -> None:
        """Close the socket."""
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _session(
    i: int, key: str, urls: Sequence[str], turns: int, outcome: Outcome
) -> str | None:
    """Run one session's turns (their latency goes to ``outcome``); its id."""
    connections = [_Connection(url, key) for url in urls]
    try:
        status, created = await connections[i % len(urls)].request("POST", "/sessions", {})
        if status != 201:
            outcome.failed += 1
            return None
        session = str(created["id"])
        for t in range(turns):
            text = f"s{i} t{t}"
            started = time.perf_counter()
            status, _ = await connections[(i + t) % len(urls)].request(
                "POST", f"/sessions/{session}/messages", {"message": text}
            )
            outcome.latency[text] = time.perf_counter() - started
            if status != 200:
                outcome.failed += 1
                continue
            outcome.turns += 1
        status, history = await connections[0].request("GET", f"/sessions/{session}")
        got = [m["content"] for m in history["messages"]] if status == 200 else []
        expected = _expected(i, turns)
        outcome.lost += sum(1 for m in expected if m not in got)
        outcome.duplicated += len(got) - len(set(got)) + sum(1 for m in got if m not in expected)
        return session
    finally:
        for connection in connections:
            connection.close()


async def _run(name: str, urls: Sequence[str], keys: Sequence[str], turns: int) -> Outcome:
    outcome = Outcome(name)
    for url in urls:  # each replica answers before the clock starts
        await _Connection(url, keys[0]).request("GET", "/health")
    started = time.perf_counter()
    await asyncio.gather(*(_session(i, key, urls, turns, outcome) for i, key in enumerate(keys)))
    outcome.seconds = time.perf_counter() - started
    return outcome


def _flags(sessions: int) -> list[str]:
    """Limits that let every session run at once (the defaults guard a small server)."""
    return ["--max-streams", str(4 * sessions), "--max-sessions", str(4 * sessions)]


def _bench(
    name: str, store: str, count: int, args: argparse.Namespace, model: ModelProcess
) -> Outcome:
    keys = [secrets.token_urlsafe(12) for _ in range(args.sessions)]
    replicas = Replica.started(count, store, model, keys=keys, flags=_flags(args.sessions))
    try:
        urls = [r.url for r in replicas]
        outcome = asyncio.run(_run(name, urls, keys, args.turns))
    finally:
        for replica in replicas:
            replica.kill()
    # The server's overhead: each turn's latency less the time its model call took in there.
    model_seconds = model.seconds()
    outcome.overheads = [t - model_seconds.get(m, args.delay) for m, t in outcome.latency.items()]
    return outcome


def _store_cost(url: str, turns: int = 300, events: int = 5) -> str:
    """What a turn costs the store alone, in this process: lock, load, append, unlock."""
    from langchain_core.messages import AIMessage, HumanMessage

    from hf_tools.serve.store import open_store

    store = open_store(url)
    try:
        started = time.perf_counter()
        for i in range(turns):
            session = f"s{i % 50}"
            with store.turn("k", session, wait=0):
                store.load("k", session)
                for _ in range(events):  # the server stores each SSE event as it goes
                    store.append_events("k", session, [("token", {"text": "word "})])
                store.append_turn("k", session, [HumanMessage(f"q{i}"), AIMessage(f"a{i}")])
        per_turn = (time.perf_counter() - started) / turns * 1000
    finally:
        store.close()
    return (
        f"{url.partition(':')[0]}: {per_turn:.2f} ms per turn (lock, load, {events} events"
        " one by one, append the turn, unlock)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.05, help="model seconds per call")
    parser.add_argument("--postgres", default=os.environ.get("HF_TOOLS_TEST_POSTGRES", ""))
    args = parser.parse_args()
    model = ModelProcess(delay=args.delay, lifetime=1800)
    rows = []
    try:
        # The baseline: the same server keeping nothing (what the agent and HTTP cost alone).
        rows.append(_bench("memory, 1 (baseline)", "memory", 1, args, model).row())
        with tempfile.TemporaryDirectory() as tmp:
            store = f"sqlite:///{Path(tmp) / 'chat.db'}"
            rows.append(_bench("SQLite, 1", store, 1, args, model).row())
            costs = [_store_cost(f"sqlite:///{Path(tmp) / 'cost.db'}")]
        if args.postgres:
            with postgres_schema(args.postgres, "bench") as url:
                rows.append(_bench("Postgres, 2", url, 2, args, model).row())
                costs.append(_store_cost(url))
        else:
            print("Postgres skipped: pass --postgres URL or set HF_TOOLS_TEST_POSTGRES")
        calls = model.stats()["calls"]
    finally:
        model.stop()
    print(f"{args.sessions} sessions x {args.turns} turns, model {args.delay * 1000:.0f} ms/call")
    print(HEADER)
    print("\n".join(rows))
    print(f"model calls: {calls}; load average: {os.getloadavg()[0]:.1f}")
    print("\n".join(costs))


if __name__ == "__main__":
    main()
