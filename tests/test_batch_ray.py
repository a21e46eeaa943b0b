"""The same job through Ray Data (a local 2-CPU cluster) as on one machine.

Skipped when Ray is not installed (the ``ray`` extra), and unless ``HF_TOOLS_TEST_RAY=1``
(``make test-ray``): starting a cluster costs 20-75 s, more than the rest of the batch
tests together. The cluster binds 127.0.0.1 and is shut down after the test.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hf_tools import batch
from tests._batch_server import BatchServer

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
if os.environ.get("HF_TOOLS_TEST_RAY") != "1":
    # A local cluster takes 20-75 s to start and schedule on a loaded 2-core machine.
    pytest.skip(
        "the Ray test runs with HF_TOOLS_TEST_RAY=1 (make test-ray)", allow_module_level=True
    )

pytestmark = [
    pytest.mark.enable_socket,
    pytest.mark.allow_hosts(["127.0.0.1"]),
    # Ray's own deprecations (its data context warns about its own defaults).
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One local cluster for the module's tests (its start is most of their time)."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


def _labelled(
    rows: list[dict[str, str]], url: str, batch_size: int, **options: Any
) -> list[dict[str, Any]]:
    """The rows labelled by 2 Ray workers through ``BatchPredictor``."""
    from hf_tools.ray import BatchPredictor

    ds = ray.data.from_items(rows).map_batches(
        BatchPredictor,
        fn_constructor_kwargs={
            "task": "text-classification",
            "mapping": {"text": "body"},
            "base_url": url,
            "concurrency": 8,
            **options,
        },
        compute=ray.data.ActorPoolStrategy(size=2),
        batch_size=batch_size,
        batch_format="pyarrow",
    )
    out: list[dict[str, Any]] = ds.take_all()
    return out


def test_map_batches_over_1000_rows_equals_the_single_machine_run(
    tmp_path: Path, cluster: None
) -> None:
    rows = [
        {"custom_id": f"c{i}", "body": "FAIL" if i % 97 == 0 else f"text {i}"} for i in range(1000)
    ]
    with BatchServer(lifetime=120) as server:
        local = batch.run(
            "text-classification",
            rows,
            base_url=server.url,
            mapping={"text": "body"},
            progress=False,
        )
        out = _labelled(rows, server.url, batch_size=100)
    single = {json.dumps(r["id"]): (r.get("output"), r.get("error")) for r in local.records or []}
    distributed = {
        r["id"]: (
            json.loads(r["output"]) if r["output"] else None,
            json.loads(r["error"]) if r["error"] else None,
        )
        for r in out
    }
    assert len(out) == 1000 and distributed == single
    assert sum(error is not None for _, error in distributed.values()) == 11  # 0, 97, ... 970


def test_max_rps_holds_for_the_whole_job_not_per_worker(cluster: None) -> None:
    max_rps = 40
    rows = [{"custom_id": f"c{i}", "body": f"text {i}"} for i in range(160)]
    with BatchServer(lifetime=120) as server:
        out = _labelled(rows, server.url, batch_size=20, max_rps=max_rps)
        answered = sorted(t for t, status in server.log if status == 200)
    assert len(out) == 160 and all(r["error"] is None for r in out)
    # Over the whole job (the server shares the driver's process: a stall of its thread
    # bunches answers, so no one second is read). Each worker at max_rps on its own: ~2x.
    rate = (len(answered) - 1) / (answered[-1] - answered[0])
    assert rate <= max_rps * 1.15, rate


# The command counts failed rows with a Python filter, which Ray asks to write as an expression.
@pytest.mark.filterwarnings("ignore:Use 'expr' instead of 'fn':UserWarning")
def test_batch_ray_holds_max_rps_and_leaves_no_budget_behind(
    tmp_path: Path, cluster: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hf_tools.batch.on_ray import run_on_ray

    # Keep the module's cluster up (the command shuts down the one it joined).
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps({"id": i, "body": f"t{i}"}) + "\n" for i in range(45)))
    ns = argparse.Namespace(
        ray="auto",
        input=source,
        output=tmp_path / "labels",
        task="text-classification",
        id_column=None,
        concurrency=8,
        rows_per_request=1,
        max_rps=30.0,
        ray_workers=2,
    )
    with BatchServer(lifetime=120) as server:
        assert run_on_ray(ns, {"text": "body"}, {"base_url": server.url}) == 0
        answered = sorted(t for t, status in server.log if status == 200)
    assert len(answered) == 45
    assert (len(answered) - 1) / (answered[-1] - answered[0]) <= 30 * 1.15
    deadline = time.monotonic() + 10
    while any(n.endswith("-30") for n in _budgets()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(n.endswith("-30") for n in _budgets())  # the budget ended with the job


def _budgets() -> list[str]:
    names = ray.util.list_named_actors()
    return [n for n in names if isinstance(n, str) and n.startswith("hf-tools-rate-")]
