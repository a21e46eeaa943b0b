"""Bulk runs (issue 23): ``hf-tools batch`` against a hand-written loop, Ray, list batching, memory.

``python -m benchmarks.batch_bench`` (``make bench-batch``) writes section 7 of
benchmarks/RESULTS.md. Not a test: the numbers depend on the machine and its load.

* Throughput: ``--rows`` rows of text classification against a loopback server adding 20 ms
  per request (``tests._batch_server`` in its own process), at concurrency 64: the
  ``hf-tools batch`` command, a hand-written ``asyncio.gather`` + semaphore loop over
  huggingface_hub's ``AsyncInferenceClient`` (rows read first, results written after: the
  loop people write), and Ray Data with 2 workers (``hf_tools.ray``; its cluster start is
  reported apart).
* List batching: the same rows as feature extraction, one text per request and 32.
* Memory: peak RSS of ``hf-tools batch`` for 100,000 and 1,000,000 input rows (feature
  extraction, 64 texts per request, no server delay): flat when the input is streamed.

Each contender runs in its own process; rows/s is timed inside it (imports excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## 7. Bulk runs (issue 23)"
CONCURRENCY = 64

_HAND_LOOP = r"""
import asyncio, json, sys, time
from huggingface_hub import AsyncInferenceClient

async def main(url, path, out, concurrency):
    start = time.perf_counter()
    with open(path) as lines:
        rows = [json.loads(line) for line in lines]
    client = AsyncInferenceClient(model=url + "/models/bench/classifier")
    gate = asyncio.Semaphore(concurrency)

    async def one(row):
        async with gate:
            try:
                labels = await client.text_classification(row["text"])
                return {"id": row["id"], "output": [[e.label, e.score] for e in labels]}
            except Exception as exc:
                return {"id": row["id"], "error": repr(exc)}

    results = await asyncio.gather(*(one(row) for row in rows))
    with open(out, "w") as handle:
        for result in results:
            handle.write(json.dumps(result) + "\n")
    failed = sum("error" in r for r in results)
    print(json.dumps({"seconds": time.perf_counter() - start, "failed": failed}))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""

_RAY = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import ray
from hf_tools.ray import BatchPredictor

url, path, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
begin = time.perf_counter()
ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
         configure_logging=False, _node_ip_address="127.0.0.1")
started = time.perf_counter()
ds = ray.data.read_json(path).map_batches(
    BatchPredictor,
    fn_constructor_kwargs={"task": "text-classification", "base_url": url, "concurrency": 32},
    compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=0.5, batch_size=500,
    batch_format="pyarrow",
)
ds.write_parquet(out)
done = time.perf_counter()
ray.shutdown()
print(json.dumps({"start": started - begin, "seconds": done - started}))
"""

_PEAK = r"""
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": done.returncode, "peak_kib": peak, "stderr": done.stderr[-400:]}))
"""


class Server:
    """``tests._batch_server`` in its own process."""

    def __init__(self, delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests._batch_server", "--delay", str(delay)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}


def _rows(path: Path, count: int, key: str) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(json.dumps({"id": f"r{i}", key: f"support ticket number {i}"}) + "\n")
    return path


def hf_tools_batch(url: str, task: str, data: Path, out: Path, *extra: str) -> float:
    """Seconds of ``hf-tools batch`` (its own summary's, imports excluded)."""
    out.unlink(missing_ok=True)
    for side in (".job.json", ".errors.jsonl"):
        out.with_name(out.name + side).unlink(missing_ok=True)
    command = [sys.executable, "-m", "hf_tools.batch", task, "--input", str(data)]
    command += ["--output", str(out), "--base-url", url, *extra]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return float(re.findall(r"in ([\d.]+) s", done.stderr)[-1])


def hand_loop(url: str, data: Path, out: Path) -> float:
    """Seconds of the hand-written huggingface_hub loop."""
    command = [sys.executable, "-c", _HAND_LOOP, url, str(data), str(out), str(CONCURRENCY)]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["failed"] == 0, result
    return float(result["seconds"])


def ray_run(url: str, data: Path, out: Path, workers: int = 2) -> tuple[float, float] | None:
    """(cluster start, run) seconds with Ray Data, or None without Ray."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return None
    command = [sys.executable, "-c", _RAY, url, str(data), str(out), str(workers)]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    return float(result["start"]), float(result["seconds"])


def peak_memory(url: str, data: Path, out: Path) -> int:
    """Peak RSS (KiB) of ``hf-tools batch`` embedding ``data``, 64 texts per request."""
    out.unlink(missing_ok=True)
    out.with_name(out.name + ".job.json").unlink(missing_ok=True)
    command = [sys.executable, "-m", "hf_tools.batch", "feature-extraction", "--input"]
    command += [str(data), "--output", str(out), "--base-url", url, "--map", "texts=text"]
    command += ["--rows-per-request", "64", "--concurrency", "16"]
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *command], capture_output=True, text=True, env=_env()
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0, result
    return int(result["peak_kib"])


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    ns = parser.parse_args()
    load_start = _load()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hf-tools-batch-bench-") as folder:
        tmp = Path(folder)
        texts = _rows(tmp / "texts.jsonl", ns.rows, "text")
        slow = Server(delay=0.02)
        try:
            conc = ["--concurrency", str(CONCURRENCY)]
            ours_all, theirs_all = [], []
            for _ in range(ns.rounds):  # interleaved: a burst of load hits both alike
                ours_all.append(
                    hf_tools_batch(slow.url, "text-classification", texts, tmp / "o.jsonl", *conc)
                )
                theirs_all.append(hand_loop(slow.url, texts, tmp / "h.jsonl"))
            ours, theirs = statistics.median(ours_all), statistics.median(theirs_all)
            ray = None if ns.no_ray else ray_run(slow.url, texts, tmp / "ray")
            one = hf_tools_batch(
                slow.url,
                "feature-extraction",
                texts,
                tmp / "e1.jsonl",
                *conc,
                "--map",
                "texts=text",
            )
            listed = hf_tools_batch(
                slow.url,
                "feature-extraction",
                texts,
                tmp / "e32.jsonl",
                *conc,
                "--map",
                "texts=text",
                "--rows-per-request",
                "32",
            )
        finally:
            slow.stop()
        fast = Server(delay=0.0)
        try:
            small = ns.memory_rows // 10
            peak_small = peak_memory(
                fast.url, _rows(tmp / "m1.jsonl", small, "text"), tmp / "m1o.jsonl"
            )
            peak_big = peak_memory(
                fast.url, _rows(tmp / "m2.jsonl", ns.memory_rows, "text"), tmp / "m2o.jsonl"
            )
        finally:
            fast.stop()
    n = ns.rows
    lines += [
        SECTION,
        "",
        f"`python -m benchmarks.batch_bench` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};"
        f" load average {load_start} at the start, {_load()} at the end; 2 shared cores).",
        f"{n:,} rows against a loopback server adding 20 ms per request, concurrency"
        f" {CONCURRENCY}; each contender in its own process, timed inside it.",
        "",
        "| contender | seconds | rows/s |",
        "|---|---|---|",
        f"| `hf-tools batch` (text-classification), median of {ns.rounds} | {ours:.1f} |"
        f" {n / ours:.0f} |",
        f"| asyncio.gather + semaphore over AsyncInferenceClient, median of {ns.rounds} |"
        f" {theirs:.1f} | {n / theirs:.0f} |",
    ]
    ratios = ", ".join(f"{t / o:.2f}" for o, t in zip(ours_all, theirs_all, strict=True))
    if ray is not None:
        lines.append(
            f"| Ray Data, 2 workers x 32 in flight (cluster start {ray[0]:.1f} s apart) |"
            f" {ray[1]:.1f} | {n / ray[1]:.0f} |"
        )
    lines += [
        f"| `hf-tools batch` feature-extraction, 1 text per request | {one:.1f} | {n / one:.0f} |",
        f"| `hf-tools batch` feature-extraction, 32 texts per request | {listed:.1f} |"
        f" {n / listed:.0f} |",
        "",
        f"Speed of `hf-tools batch` over the hand-written loop, round by round: {ratios}.",
        "",
        f"Peak RSS of `hf-tools batch` (feature-extraction, 64 texts per request, streamed):"
        f" {small:,} rows {peak_small / 1024:.0f} MiB, {ns.memory_rows:,} rows"
        f" {peak_big / 1024:.0f} MiB.",
        "",
    ]
    text = "\n".join(lines)
    old = OUT.read_text(encoding="utf-8")
    start = old.find(SECTION)
    kept = old if start < 0 else old[:start].rstrip("\n") + "\n"
    OUT.write_text(kept.rstrip("\n") + "\n\n" + text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
