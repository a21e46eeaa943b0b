"""Benchmarks against one fast loopback server; writes benchmarks/RESULTS.md.

Run with ``make bench``. Not a test: numbers depend on the machine, which RESULTS.md names.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from langchain_core.tools import StructuredTool

BODY = b'[{"label":"POSITIVE","score":0.9998695850372314},{"label":"NEGATIVE","score":0.0001304}]'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)
OUT = Path(__file__).with_name("RESULTS.md")


class Server:
    """Keep-alive HTTP/1.1 on 127.0.0.1; one write per answer, TCP_NODELAY, optional delay."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(5)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=256)
        )
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        import socket

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
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/predict"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def _timeit(fn: Callable[[], Any], n: int = 2000, warm: int = 200) -> dict[str, float]:
    for _ in range(warm):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e6)
    times.sort()
    return {
        "median": statistics.median(times),
        "min": times[0],
        "p99": times[int(len(times) * 0.99)],
    }


def per_call(url: str) -> dict[str, dict[str, float]]:
    from hf_tools import HuggingFaceToolkit

    payload = {"inputs": "I like you", "parameters": {}}
    raw = httpx.Client()
    tool = HuggingFaceToolkit(api_key="hf_bench", base_url=url, is_custom_endpoint=True).get_tool(
        "text_classification"
    )

    def noop(text: str) -> str:
        return text

    noop_tool = StructuredTool.from_function(noop, name="noop", description="no-op")

    def bare(text: str) -> str:
        return raw.post(url, json={"inputs": text, "parameters": {}}).text

    bare_tool = StructuredTool.from_function(bare, name="bare", description="raw httpx")
    results = {
        "raw httpx.Client.post": _timeit(lambda: raw.post(url, json=payload).json()),
        "no-op StructuredTool.invoke": _timeit(lambda: noop_tool.invoke({"text": "I like you"})),
        "StructuredTool around raw httpx": _timeit(
            lambda: bare_tool.invoke({"text": "I like you"})
        ),
        "hf_tools tool.invoke": _timeit(lambda: tool.invoke({"text": "I like you"})),
    }
    try:
        from huggingface_hub import InferenceClient

        hub = InferenceClient(model=url, token="hf_bench")

        def hub_call(text: str) -> str:
            return str(hub.text_classification(text))

        hub_tool = StructuredTool.from_function(hub_call, name="hub", description="hub")
        results["InferenceClient in a StructuredTool"] = _timeit(
            lambda: hub_tool.invoke({"text": "I like you"}), n=500
        )
    except Exception as exc:  # report, don't fail the run
        results[f"InferenceClient unavailable ({type(exc).__name__})"] = {}
    return results


async def throughput(url: str, n: int = 2000, concurrency: int = 64) -> dict[str, float]:
    from hf_tools import HuggingFaceToolkit

    tool = HuggingFaceToolkit(api_key="hf_bench", base_url=url, is_custom_endpoint=True).get_tool(
        "text_classification"
    )
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    raw = httpx.AsyncClient(limits=limits)

    async def run(call: Callable[[], Any]) -> float:
        sem = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with sem:
                await call()

        t = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - t)

    payload = {"inputs": "I like you", "parameters": {}}
    raw_rate = await run(lambda: raw.post(url, json=payload))
    ours = await run(lambda: tool.ainvoke({"text": "I like you"}))
    await raw.aclose()
    return {"raw httpx.AsyncClient calls/s": raw_rate, "hf_tools ainvoke calls/s": ours}


def context_cost() -> dict[str, Any]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from hf_tools import HuggingFaceToolkit

    tools = HuggingFaceToolkit(api_key="hf_bench").get_tools()
    sizes = {
        t.name: len(json.dumps(convert_to_openai_tool(t), separators=(",", ":"))) for t in tools
    }
    return {
        "tools": len(tools),
        "total_bytes": sum(sizes.values()),
        "largest": max(sizes.items(), key=lambda kv: kv[1]),
    }


def import_and_memory() -> dict[str, float]:
    code = "import time; t=time.perf_counter(); import hf_tools; print(time.perf_counter()-t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(5)]
    from hf_tools import HuggingFaceToolkit

    tracemalloc.start()
    toolkit = HuggingFaceToolkit(api_key="hf_bench")
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert toolkit.get_tools()
    return {
        "import ms (median of 5)": statistics.median(runs) * 1000,
        "toolkit KiB": current / 1024,
    }


def main() -> None:
    fast = Server()
    slow = Server(delay=0.02)
    try:
        calls = per_call(fast.url)
        rates = asyncio.run(throughput(slow.url))
    finally:
        fast.stop()
        slow.stop()
    ctx = context_cost()
    mem = import_and_memory()
    raw_rate = rates["raw httpx.AsyncClient calls/s"]
    floor = calls["no-op StructuredTool.invoke"]["median"]
    ours = calls["hf_tools tool.invoke"]["median"] - calls["raw httpx.Client.post"]["median"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}. Loopback server on 127.0.0.1 (TCP_NODELAY,"
        " one write per answer). Produced by `make bench`.",
        "",
        "## 1. Per-call overhead (µs, 2,000 calls after warm-up)",
        "",
        "| call | median | min | p99 |",
        "|---|---|---|---|",
        *(
            f"| {name} | {v.get('median', 0):.0f} | {v.get('min', 0):.0f} | {v.get('p99', 0):.0f} |"
            for name, v in calls.items()
        ),
        "",
        f"Our tool.invoke minus raw httpx: {ours:.0f} µs; the no-op StructuredTool floor: "
        f"{floor:.0f} µs; ratio {ours / floor:.2f} (target ≤ 1.2).",
        "",
        "## 2. Async throughput (2,000 calls, concurrency 64, server adds 20 ms)",
        "",
        *(f"- {k}: {v:.0f}" for k, v in rates.items()),
        f"- ratio: {rates['hf_tools ainvoke calls/s'] / raw_rate:.2f} (target ≥ 0.90)",
        "",
        "## 3. LLM context cost",
        "",
        f"- {ctx['tools']} tools, {ctx['total_bytes']} bytes of schemas in OpenAI tool format"
        f" (target < 12,000); largest: {ctx['largest'][0]} ({ctx['largest'][1]} bytes)",
        "- tool content is bounded by `max_content_chars` (default 4,000)",
        "",
        "## 4. Import time and memory",
        "",
        *(f"- {k}: {v:.1f}" for k, v in mem.items()),
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
