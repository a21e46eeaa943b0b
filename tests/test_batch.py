"""Bulk runs against a loopback hf-inference server: formats, resume, errors, rate limits.

Every server is :class:`tests._batch_server.BatchServer` on 127.0.0.1 (an ephemeral port,
stopped with the test, and by itself after its lifetime).
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hf_tools import batch
from hf_tools.batch.throttle import Throttle
from hf_tools.cli import main
from tests._batch_server import BatchServer, vector

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

ROOT = Path(__file__).resolve().parents[1]
TASK = "text-classification"


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer(lifetime=60) as running:
        yield running


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _label(record: dict[str, Any]) -> str:
    label: str = record["output"]["labels"][0]["label"]
    return label


def _rows(n: int, fail_every: int = 0) -> list[dict[str, Any]]:
    return [
        {"id": f"r{i}", "text": "FAIL" if fail_every and i % fail_every == 0 else f"t{i}"}
        for i in range(n)
    ]


def _batch(url: str, *args: str) -> int:
    return main(["batch", TASK, "--base-url", url, *args])


def kill_9_when(command: list[str], watched: Path, size: int, cwd: Path) -> None:
    """Run ``command`` (this checkout importable) and ``kill -9`` it once ``watched`` has
    more than ``size`` bytes (or after 30 s)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, cwd=cwd)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if watched.exists() and watched.stat().st_size > size:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)


# --------------------------------------------------------------------------- formats


def test_jsonl_in_jsonl_out_every_row_its_own_answer(server: BatchServer, tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "in.jsonl", _rows(40))
    out = tmp_path / "out.jsonl"
    assert _batch(server.url, "--input", str(data), "--output", str(out)) == 0
    records = _records(out)
    assert sorted(r["id"] for r in records) == sorted(f"r{i}" for i in range(40))
    assert all(_label(r) == f"L-t{r['id'][1:]}" for r in records)
    job = json.loads((tmp_path / "out.jsonl.job.json").read_text())
    assert job["task"] == TASK and job["map"] == {} and job["provider"] is None
    assert not (tmp_path / "out.jsonl.errors.jsonl").exists()


def test_csv_with_a_mapped_column_and_row_numbers_as_ids(
    server: BatchServer, tmp_path: Path
) -> None:
    data = tmp_path / "tickets.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["body", "team"])
        writer.writerows([[f"ticket, {i}\nline two", "a"] for i in range(25)])
    out = tmp_path / "labels.jsonl"
    code = _batch(server.url, "--input", str(data), "--map", "text=body", "--output", str(out))
    assert code == 0
    by_id = {r["id"]: _label(r) for r in _records(out)}
    assert by_id == {i: f"L-ticket, {i}\nline two" for i in range(25)}


def test_parquet_in_parquet_out(server: BatchServer, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "in.parquet"
    rows = _rows(30, fail_every=10)
    pq.write_table(pa.Table.from_pylist(rows), data)
    out = tmp_path / "out.parquet"
    assert _batch(server.url, "--input", str(data), "--output", str(out)) == 1  # 3 failed
    table = pq.read_table(out).to_pylist()
    assert sorted(r["id"] for r in table) == sorted(json.dumps(r["id"]) for r in rows)
    failed = [r for r in table if r["error"] is not None]
    assert len(failed) == 3 and all(r["output"] is None for r in failed)
    assert json.loads(failed[0]["error"])["class"] == "InvalidInputError"
    assert len(_records(tmp_path / "out.parquet.errors.jsonl")) == 3
    assert json.loads((tmp_path / "out.parquet.job.json").read_text())["task"] == TASK
    ok = [r for r in table if r["error"] is None]
    assert all(json.loads(r["output"])["labels"][0]["label"].startswith("L-t") for r in ok)
    calls = len(server.log)
    assert _batch(server.url, "--input", str(data), "--output", str(out)) == 0  # all done
    assert len(server.log) == calls and pq.read_table(out).to_pylist() == table


# ----------------------------------------------------------------- errors and usage


def test_failed_rows_are_kept_with_their_class_and_the_run_goes_on(
    server: BatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _jsonl(tmp_path / "in.jsonl", _rows(50, fail_every=7))
    out = tmp_path / "out.jsonl"
    assert _batch(server.url, "--input", str(data), "--output", str(out)) == 1
    records = _records(out)
    errors = _records(tmp_path / "out.jsonl.errors.jsonl")
    assert len(records) == 50 and len(errors) == 8  # 0, 7, ..., 49
    assert {e["id"] for e in errors} == {f"r{i}" for i in range(0, 50, 7)}
    assert all(e["error"]["class"] == "InvalidInputError" for e in errors)
    assert all(e["error"]["kind"] == "fix_arguments" for e in errors)
    err = capsys.readouterr().err
    assert "done 42, failed 8, skipped 0" in err and "out.jsonl.errors.jsonl" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--map", "text"], "ARGUMENT=COLUMN"),
        (["--map", "text=body"], "no column(s) ['body']"),
        (["--map", "texts=text"], "has no argument(s) ['texts']"),
        (["--rows-per-request", "8"], "one input per request"),
        (["--concurrency", "0"], "at least 1"),
        (["--id", "key"], "no id column 'key'"),
    ],
)
def test_usage_errors_exit_2_before_any_call(
    server: BatchServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    data = _jsonl(tmp_path / "in.jsonl", _rows(5))
    out = tmp_path / "out.jsonl"
    assert _batch(server.url, "--input", str(data), "--output", str(out), *extra) == 2
    assert message in capsys.readouterr().err
    assert server.log == []


def test_a_missing_input_and_a_csv_output_are_usage_errors(
    server: BatchServer, tmp_path: Path
) -> None:
    data = _jsonl(tmp_path / "in.jsonl", _rows(2))
    assert _batch(server.url, "--input", str(tmp_path / "no.jsonl"), "--output", "o.jsonl") == 2
    assert _batch(server.url, "--input", str(data), "--output", str(tmp_path / "o.csv")) == 2
    assert server.log == []


# ------------------------------------------------------------------------------ resume


def test_a_changed_job_is_refused_unless_forced(
    server: BatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _jsonl(tmp_path / "in.jsonl", _rows(10))
    out = tmp_path / "out.jsonl"
    assert _batch(server.url, "--input", str(data), "--output", str(out)) == 0
    capsys.readouterr()
    more = _jsonl(tmp_path / "more.jsonl", _rows(12))
    changed = ["--input", str(more), "--output", str(out), "--model", "org/other"]
    assert _batch(server.url, *changed) == 2
    err = capsys.readouterr().err
    assert "holds rows of another job" in err and "org/other" in err
    assert len(_records(out)) == 10
    assert _batch(server.url, *changed, "--force") == 0
    assert len(_records(out)) == 12  # the 10 done kept, 2 new added
    assert json.loads((tmp_path / "out.jsonl.job.json").read_text())["model"] == "org/other"


def test_a_rerun_skips_done_rows_and_repairs_a_torn_last_line(
    server: BatchServer, tmp_path: Path
) -> None:
    rows = _rows(30)
    out = tmp_path / "out.jsonl"
    first = batch.run(TASK, rows[:10], output=out, base_url=server.url, progress=False)
    assert first.done == 10
    with out.open("ab") as handle:
        handle.write(b'{"id":"r10","output":{"lab')  # what a kill -9 mid-write leaves
    calls = len(server.log)
    again = batch.run(TASK, rows, output=out, base_url=server.url, progress=False)
    assert (again.done, again.skipped, again.failed) == (20, 10, 0)
    assert len(server.log) - calls == 20
    ids = [r["id"] for r in _records(out)]
    assert sorted(ids) == sorted(r["id"] for r in rows)  # each row exactly once


def test_kill_9_mid_run_then_rerun_gives_every_row_once(tmp_path: Path) -> None:
    rows = _rows(400)
    data = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    with BatchServer(delay=0.02, lifetime=60) as slow:
        command = [
            sys.executable,
            "-m",
            "hf_tools.batch",
            TASK,
            "--input",
            str(data),
            "--output",
            str(out),
            "--base-url",
            slow.url,
            "--concurrency",
            "4",
        ]
        kill_9_when(command, out, 3000, tmp_path)
        done_before = len(out.read_bytes().splitlines())
        assert 0 < done_before < 400, "killed mid-run"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        rerun = subprocess.run(command, env=env, capture_output=True, timeout=60, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    ids = [r["id"] for r in _records(out)]
    assert sorted(ids) == sorted(r["id"] for r in rows)
    skipped = int(re.search(r"skipped (\d+)", rerun.stderr.decode()).group(1))  # type: ignore[union-attr]
    assert skipped in (done_before, done_before - 1)  # a torn last line is done again


# ----------------------------------------------------------------- rate, credit, lists


def test_a_rate_limited_server_loses_no_row_and_settles_below_5_percent_429() -> None:
    rows = _rows(300)
    with BatchServer(rate=100, retry_after="0.5", lifetime=60) as limited:
        summary = batch.run(TASK, rows, base_url=limited.url, concurrency=16, progress=False)
        log = list(limited.log)
    assert (summary.done, summary.failed) == (300, 0)
    assert summary.throttled > 0 and summary.retried >= summary.throttled
    assert sorted(r["id"] for r in summary.records or []) == sorted(r["id"] for r in rows)
    first_429 = min(t for t, status in log if status == 429)
    settled = [status for t, status in log if t > first_429 + 1.0]
    assert len(settled) > 100
    assert sum(s == 429 for s in settled) / len(settled) < 0.05


def test_402_stops_the_run_at_once_keeping_what_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _jsonl(tmp_path / "in.jsonl", _rows(200))
    out = tmp_path / "out.jsonl"
    with BatchServer(pay_after=40, lifetime=60) as broke:
        code = _batch(broke.url, "--input", str(data), "--output", str(out), "--concurrency", "4")
        sent = len(broke.log)
    assert code == 1
    err = capsys.readouterr().err
    assert "stopped:" in err and "credits" in err and "rerun the same command" in err
    assert len(_records(out)) == 40 and all("output" in r for r in _records(out))
    assert sent <= 40 + 4  # the calls in flight when the 402 came, no more
    with BatchServer(lifetime=60) as paid:
        assert _batch(paid.url, "--input", str(data), "--output", str(out)) == 0
    assert sorted(r["id"] for r in _records(out)) == sorted(f"r{i}" for i in range(200))


def test_list_batching_sends_n_texts_per_request_with_the_same_outputs(
    server: BatchServer,
) -> None:
    rows = [{"id": i, "texts": f"text number {i}"} for i in range(100)]
    one = batch.run("feature-extraction", rows, base_url=server.url, progress=False)
    calls = len(server.log)
    listed = batch.run(
        "feature-extraction", rows, base_url=server.url, rows_per_request=16, progress=False
    )
    assert calls == 100 and len(server.log) - calls == 7  # ceil(100 / 16)
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(one.records or [], key=key) == sorted(listed.records or [], key=key)
    first = min(listed.records or [], key=key)
    assert first["output"]["vectors"] == [vector("text number 0")]


def test_a_failing_list_request_falls_back_to_one_row_each(server: BatchServer) -> None:
    rows = [{"id": i, "texts": "FAIL" if i == 3 else f"t{i}"} for i in range(8)]
    summary = batch.run(
        "sentence-embeddings", rows, base_url=server.url, rows_per_request=8, progress=False
    )
    assert (summary.done, summary.failed) == (7, 1)
    failed = [r for r in summary.records or [] if "error" in r]
    assert [r["id"] for r in failed] == [3]


# ------------------------------------------------------------------------ API, progress


class _DatasetLike:
    """What the runner uses of a ``datasets.Dataset``: ``len`` and rows as dicts."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)


async def test_arun_takes_a_generator_or_a_dataset(server: BatchServer) -> None:
    rows = _rows(12)
    from_generator = await batch.arun(TASK, (r for r in rows), base_url=server.url, progress=False)
    from_dataset = await batch.arun(TASK, _DatasetLike(rows), base_url=server.url, progress=False)
    assert from_generator.done == from_dataset.done == 12
    assert from_generator.ok and from_dataset.ok


def test_progress_prints_plain_lines_off_a_terminal(server: BatchServer) -> None:
    stream = io.StringIO()
    with BatchServer(delay=0.01, lifetime=60) as slow:
        batch.run(
            TASK,
            _rows(60),
            base_url=slow.url,
            concurrency=2,
            progress=stream,
            progress_interval=0.05,
        )
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert any("/60 rows" in line and "rows/s" in line and "ETA" in line for line in lines)
    assert lines[-1].startswith("done 60, failed 0, skipped 0")


# ---------------------------------------------------------------------------- throttle


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_throttle_cuts_once_per_congestion_event_and_regrows() -> None:
    clock = _Clock()
    throttle = Throttle(16, clock=clock)
    starts = []
    for _ in range(16):
        starts.append(await throttle.acquire())
        clock.now += 0.01
    for _ in range(16):
        throttle.release()
    throttle.throttled(starts[0], None)
    throttle.throttled(starts[5], None)  # sent before the cut: the same event
    assert throttle.cuts == 1 and throttle.limit == 8
    # 16 starts in 0.16 s: 100 requests/s were refused; paced at half of that now.
    assert throttle.rate == pytest.approx(50)
    cut_rate = throttle.rate
    for _ in range(100):
        throttle.succeeded()
    assert throttle.limit > 8 and throttle.rate > cut_rate


async def test_max_rps_spaces_the_calls() -> None:
    throttle = Throttle(8, max_rps=50)
    begin = time.monotonic()
    for _ in range(11):
        await throttle.acquire()
        throttle.release()
    assert time.monotonic() - begin >= 10 / 50 * 0.9


async def test_retry_after_pauses_every_call() -> None:
    throttle = Throttle(4)
    started = await throttle.acquire()
    throttle.release()
    throttle.throttled(started, 0.2)
    begin = time.monotonic()
    await asyncio.wait_for(throttle.acquire(), 5)
    assert time.monotonic() - begin >= 0.18


# ---------------------------------------------------------------------------- the manual

_DOCTEST = re.compile(
    r"<!-- doctest: cassettes=(?P<cassettes>\S+) -->\n```python\n(?P<code>.*?)```", re.S
)


def test_the_manual_python_snippet_runs_and_prints_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.testing import CHAT_MATCH_ON, DUMMY_TOKEN, use_cassette

    text = (ROOT / "docs" / "batch.md").read_text(encoding="utf-8")
    snippets = list(_DOCTEST.finditer(text))
    assert snippets, "docs/batch.md has a doc-tested snippet"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_TOKEN", DUMMY_TOKEN)
    for match in snippets:
        code = match["code"]
        cassettes = match["cassettes"].split(",")
        with use_cassette(*cassettes, library_dir=ROOT / "cassettes", match_on=CHAT_MATCH_ON):
            exec(compile(code, "docs/batch.md", "exec"), {"__name__": "doc"})  # our own manual
        lines = code.splitlines()
        expected = [
            follow[2:]
            for k, line in enumerate(lines)
            if line.startswith("print(")
            for follow in lines[k + 1 : k + 2]
            if follow.startswith("# ")
        ]
        assert capsys.readouterr().out.splitlines() == expected


def test_max_retries_bounds_the_calls_of_a_row_that_stays_rate_limited(
    tmp_path: Path,
) -> None:
    data = _jsonl(tmp_path / "in.jsonl", _rows(2))
    out = tmp_path / "out.jsonl"
    with BatchServer(rate=0.001, retry_after="0.05", lifetime=60) as closed:
        args = ["--input", str(data), "--output", str(out), "--max-retries", "2"]
        assert _batch(closed.url, *args) == 1
        assert [status for _, status in closed.log] == [429] * 6  # 2 rows x 3 calls
    errors = _records(tmp_path / "out.jsonl.errors.jsonl")
    assert {e["error"]["class"] for e in errors} == {"RateLimitError"} and len(errors) == 2


def test_ctrl_c_keeps_what_is_done_and_exits_130(tmp_path: Path) -> None:
    # 4,000 rows at 4 in flight, 20 ms each: 20 s of work, so a loaded machine still
    # interrupts it midway (400 once finished before the Ctrl-C arrived).
    data = _jsonl(tmp_path / "in.jsonl", _rows(4000))
    out = tmp_path / "out.jsonl"
    with BatchServer(delay=0.02, lifetime=60) as slow:
        command = [sys.executable, "-m", "hf_tools.batch", TASK, "--input", str(data)]
        command += ["--output", str(out), "--base-url", slow.url, "--concurrency", "4"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert b"interrupted: the rows done are kept" in err and b"Traceback" not in err
    done = _records(out)  # every line whole: the interrupt cut no write
    assert 0 < len(done) < 4000


def test_binary_parts_go_to_the_output_dir_under_content_addressed_names(
    server: BatchServer, tmp_path: Path
) -> None:
    from tests._batch_server import IMAGE

    rows = [{"id": i, "prompt": f"a cat {i}"} for i in range(3)]
    pictures = tmp_path / "pictures"
    summary = batch.run(
        "text-to-image",
        rows,
        model="org/painter",
        base_url=server.url,
        output_dir=pictures,
        progress=False,
    )
    assert summary.ok and len(summary.records or []) == 3
    (name,) = {Path(f).name for r in summary.records or [] for f in r["output"]["files"]}
    assert name.startswith("image_") and (pictures / name).read_bytes() == IMAGE
    assert all(r["output"]["image"] == f"<{len(IMAGE)} bytes>" for r in summary.records or [])
    inline = batch.run(
        "text-to-image", rows[:1], model="org/painter", base_url=server.url, progress=False
    )
    record = (inline.records or [])[0]["output"]
    assert "files" not in record and base64.b64decode(record["image"]) == IMAGE


def test_a_rate_limited_list_request_is_not_split_into_more_requests() -> None:
    rows = [{"id": i, "texts": f"t{i}"} for i in range(8)]
    with BatchServer(rate=0.001, retry_after="0.05", lifetime=60) as closed:
        summary = batch.run(
            "feature-extraction",
            rows,
            base_url=closed.url,
            rows_per_request=8,
            max_attempts=2,
            progress=False,
        )
        sent = len(closed.log)
    assert sent == 2  # the list twice, not then each row on its own
    assert summary.failed == 8
    assert {r["error"]["class"] for r in summary.records or []} == {"RateLimitError"}
