"""Retrying failed rows (``retry_failed``, ``--retry-failed``): each row ends with one line.

Against the loopback server of :mod:`tests._batch_server`, which answers 400 to any text
holding ``FAIL``: a first run records those rows as failures, the input is then "fixed" (or
not), and the retry run replaces their lines — also when it is stopped or killed midway.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hf_tools import batch
from hf_tools.batch.sinks import JsonlSink, _merge, _repair, id_key
from hf_tools.errors import ConfigurationError
from tests._batch_server import BatchServer
from tests.test_batch import TASK, _batch, _jsonl, _records, _rows, kill_9_when

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer(lifetime=60) as running:
        yield running


def _fixed(rows: list[dict[str, Any]], *, keep: str | None = None) -> list[dict[str, Any]]:
    """The rows with their input repaired (``FAIL`` -> ``t<i>``), but for the id ``keep``."""
    return [
        r if r["id"] == keep else {**r, "text": f"t{r['id'][1:]}"}
        for r in rows  # ids are r0, r1, ...
    ]


def _one_line_per_row(records: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    counts = Counter(r["id"] for r in records)
    assert sorted(counts) == sorted(r["id"] for r in rows) and set(counts.values()) == {1}


def _failed_ids(records: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in records if "error" in r}


def test_failed_rows_run_again_and_their_new_lines_replace_the_old(
    server: BatchServer, tmp_path: Path
) -> None:
    rows = _rows(30, fail_every=5)  # r0, r5, ... r25 fail: 6 rows
    out = tmp_path / "out.jsonl"
    first = batch.run(TASK, rows, output=out, base_url=server.url, progress=False)
    assert (first.done, first.failed) == (24, 6)
    fixed = _fixed(rows, keep="r5")  # r5 still fails: its input is still bad
    plain = batch.run(TASK, fixed, output=out, base_url=server.url, progress=False)
    assert (plain.done, plain.skipped, plain.rerun) == (0, 30, 0)  # without: failed rows stay
    calls = len(server.log)
    again = batch.run(
        TASK, fixed, output=out, base_url=server.url, progress=False, retry_failed=True
    )
    assert (again.done, again.failed, again.skipped, again.rerun) == (5, 1, 24, 6)
    assert len(server.log) - calls == 6  # the failed rows only
    records = _records(out)
    _one_line_per_row(records, rows)
    assert _failed_ids(records) == {"r5"}  # fix_arguments rows are retried too
    assert {r["id"]: r["output"]["labels"][0]["label"] for r in records if "output" in r} == {
        f"r{i}": f"L-t{i}" for i in range(30) if i != 5
    }
    assert [e["id"] for e in _records(tmp_path / "out.jsonl.errors.jsonl")] == ["r5"]
    assert not (tmp_path / "out.jsonl.retry.jsonl").exists()
    last = batch.run(TASK, fixed, output=out, base_url=server.url, progress=False)
    assert (last.done, last.skipped) == (0, 30)


def test_parquet_output_ends_with_one_row_per_id(server: BatchServer, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    rows = _rows(20, fail_every=4)
    out = tmp_path / "out.parquet"
    assert batch.run(TASK, rows, output=out, base_url=server.url, progress=False).failed == 5
    again = batch.run(
        TASK, _fixed(rows), output=out, base_url=server.url, progress=False, retry_failed=True
    )
    assert (again.done, again.failed, again.rerun) == (5, 0, 5)
    table = pq.read_table(out).to_pylist()
    assert sorted(r["id"] for r in table) == sorted(id_key(r["id"]) for r in rows)
    assert all(r["error"] is None and r["output"] for r in table)
    _one_line_per_row(_records(tmp_path / "out.parquet.rows.jsonl"), rows)
    assert not (tmp_path / "out.parquet.errors.jsonl").exists()  # no failure left


def test_a_retry_stopped_midway_keeps_the_old_failures_of_the_rows_not_reached(
    tmp_path: Path,
) -> None:
    rows = _rows(40, fail_every=2)  # 20 failures
    out = tmp_path / "out.jsonl"
    with BatchServer(lifetime=60) as server:
        batch.run(TASK, rows, output=out, base_url=server.url, progress=False)
    fixed = _fixed(rows)
    with BatchServer(pay_after=5, lifetime=60) as broke:  # 5 answers, then 402 stops the run
        stopped = batch.run(
            TASK,
            fixed,
            output=out,
            base_url=broke.url,
            concurrency=1,
            progress=False,
            retry_failed=True,
        )
    assert stopped.stopped is not None and stopped.done == stopped.rerun == 5  # not queued ones
    records = _records(out)
    _one_line_per_row(records, rows)
    assert len(_failed_ids(records)) == 15  # the 15 not reached keep their failure lines
    with BatchServer(lifetime=60) as server:
        rest = batch.run(
            TASK, fixed, output=out, base_url=server.url, progress=False, retry_failed=True
        )
    assert (rest.done, rest.rerun, rest.skipped) == (15, 15, 25)
    records = _records(out)
    _one_line_per_row(records, rows)
    assert _failed_ids(records) == set()


def test_kill_9_during_a_retry_loses_no_line_and_the_next_run_finishes_it(
    tmp_path: Path,
) -> None:
    rows = _rows(300, fail_every=1)  # every row fails the first time
    out = tmp_path / "out.jsonl"
    journal = tmp_path / "out.jsonl.retry.jsonl"
    with BatchServer(lifetime=60) as server:
        assert batch.run(TASK, rows, output=out, base_url=server.url, progress=False).failed == 300
    before = out.read_bytes()
    data = _jsonl(tmp_path / "in.jsonl", _fixed(rows))
    with BatchServer(delay=0.02, lifetime=60) as slow:
        command = [sys.executable, "-m", "hf_tools.batch", TASK, "--input", str(data)]
        command += ["--output", str(out), "--base-url", slow.url, "--concurrency", "2"]
        kill_9_when([*command, "--retry-failed"], journal, 1000, tmp_path)
        assert out.read_bytes() == before  # the old lines are all there, untouched
        _repair(journal)  # a torn last line, as every open cuts it
        retried = len(journal.read_bytes().splitlines())
        assert 0 < retried < 300, "killed mid-run"
        # The same command again: it puts the journal in place first, then retries the rest.
        rest = batch.run(
            TASK, data, output=out, base_url=slow.url, progress=False, retry_failed=True
        )
    left = 300 - retried
    assert (rest.done, rest.rerun, rest.skipped, rest.requests) == (left, left, retried, left)
    records = _records(out)
    _one_line_per_row(records, rows)
    assert _failed_ids(records) == set() and not journal.exists()


def test_a_merge_a_kill_cut_short_is_finished_by_the_next_open(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    errors = tmp_path / "out.jsonl.errors.jsonl"
    journal = tmp_path / "out.jsonl.retry.jsonl"
    bad = {"class": "InvalidInputError", "kind": "fix_arguments", "message": "HTTP 400"}
    old = [{"id": f"r{i}", "error": bad} for i in range(4)]
    _jsonl(out, old)
    _jsonl(errors, old)
    again = {**bad, "message": "HTTP 400 again"}
    _jsonl(journal, [{"id": "r0", "output": {"labels": []}}, {"id": "r1", "error": again}])
    # Killed right after the output's rename: the errors file and the journal are as they were.
    _merge(out, journal, {id_key("r0"), id_key("r1")})
    sink = JsonlSink(out, {"task": TASK}, force=True)
    sink.open()
    sink.close()
    new = [{"id": "r0", "output": {"labels": []}}, {"id": "r1", "error": again}]
    assert sorted(map(json.dumps, _records(out))) == sorted(map(json.dumps, new + old[2:]))
    assert [(r["id"], r["error"]["message"]) for r in _records(errors)] == [
        ("r2", "HTTP 400"),
        ("r3", "HTTP 400"),
        ("r1", "HTTP 400 again"),
    ]
    assert not journal.exists() and sink.done == {id_key(f"r{i}") for i in range(4)}


def test_the_cli_flag_end_to_end(
    server: BatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows(12, fail_every=3)
    data = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert _batch(server.url, "--input", str(data), "--output", str(out)) == 1
    _jsonl(data, _fixed(rows))
    capsys.readouterr()
    assert _batch(server.url, "--input", str(data), "--output", str(out), "--retry-failed") == 0
    err = capsys.readouterr().err
    assert "done 4, failed 0, rerun 4 (failed before), skipped 8" in err
    _one_line_per_row(_records(out), rows)
    assert _failed_ids(_records(out)) == set()


def test_the_flag_is_in_the_help_and_needs_a_resumable_output(
    server: BatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hf_tools.cli import main

    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    assert "--retry-failed" in capsys.readouterr().out
    data = _jsonl(tmp_path / "in.jsonl", _rows(2))
    ray = ["--input", str(data), "--output", str(tmp_path / "o"), "--ray", "auto"]
    assert _batch(server.url, *ray, "--retry-failed") == 2
    assert "a Ray run does not resume" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="give the output"):
        batch.run(TASK, _rows(2), base_url=server.url, progress=False, retry_failed=True)
    assert server.log == []


def test_a_retry_with_nothing_failed_leaves_the_output_as_it_was(
    server: BatchServer, tmp_path: Path
) -> None:
    rows = _rows(10)
    out = tmp_path / "out.jsonl"
    batch.run(TASK, rows, output=out, base_url=server.url, progress=False)
    before = out.read_bytes()
    again = batch.run(
        TASK, rows, output=out, base_url=server.url, progress=False, retry_failed=True
    )
    assert (again.done, again.skipped, again.rerun) == (0, 10, 0)
    assert out.read_bytes() == before and not (tmp_path / "out.jsonl.retry.jsonl").exists()
    assert json.loads(before.splitlines()[0])["output"]
