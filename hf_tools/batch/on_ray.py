"""The same bulk job on a Ray cluster: a callable class for ``Dataset.map_batches``.

::

    import ray
    from hf_tools.ray import BatchPredictor

    ds = ray.data.read_json("tickets.jsonl")
    labels = ds.map_batches(
        BatchPredictor,
        fn_constructor_kwargs={"task": "text-classification", "mapping": {"text": "body"}},
        compute=ray.data.ActorPoolStrategy(size=4),  # workers, one async client each
        num_cpus=0.5,             # they wait on the network: leave CPUs to read the input
        batch_size=256,
        batch_format="pyarrow",
    )
    labels.write_parquet("labels/")

Each worker holds one event loop and one toolset (connection pool) for its life, and runs
each batch through the single-machine runner (:mod:`hf_tools.batch.runner`): the same
arguments, throttle and error-per-row rule. Out come the columns ``id``, ``output`` and
``error`` (JSON text), as a Parquet output of ``hf-tools batch`` holds. A failure the
developer must act on (auth, credit) raises, which stops the Ray job. Rows need an id column
(``custom_id``, ``id`` or the one named): a row number means nothing across batches.

``max_rps`` holds for the whole job, not per worker: the workers lease start slots from one
small actor, the job's :class:`~hf_tools.batch.shared_rate.RateBudget` (named after the Ray
job and the rate; created by the driver in ``hf-tools batch --ray``, else by the first worker,
and never detached, so it ends with the job). A ``Retry-After`` one worker is told pauses
them all. Concurrency and the adaptive rate stay per worker. Without ``max_rps`` there is no
actor: each worker honours the ``Retry-After`` of its own 429s.

Needs the ``ray`` extra: ``pip install 'hf-tools[ray]'``. Its public name is
:mod:`hf_tools.ray`; it lives in the batch package because ``hf-tools batch --ray``
(:mod:`hf_tools.batch.cli`) runs it, so the batch package and the Ray entry point do not
import each other.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from hf_tools.batch import batch_settings, with_model
from hf_tools.batch.runner import BatchStopped, Runner
from hf_tools.batch.shared_rate import RateBudget, SharedRate
from hf_tools.batch.sinks import MemorySink, parquet_columns
from hf_tools.batch.sources import Source
from hf_tools.batch.throttle import Throttle
from hf_tools.errors import ConfigurationError
from hf_tools.tasks import get_spec
from hf_tools.toolset import Toolset

__all__ = ["BatchPredictor", "run_on_ray"]

_log = logging.getLogger(__name__)
_ID_COLUMNS = ("custom_id", "id")
WORKER_CPUS = 0.5
"""CPUs a worker reserves: its calls wait on the network, and a worker holding a whole CPU
left none for reading the input on a 2-CPU node (the job waited for ever)."""


class BatchPredictor:
    """A Ray Data UDF: a batch of rows in, their ``id``/``output``/``error`` columns out."""

    def __init__(
        self,
        task: str,
        *,
        model: str | None = None,
        mapping: Mapping[str, str] | None = None,
        id_column: str | None = None,
        concurrency: int = 8,
        rows_per_request: int = 1,
        max_rps: float | None = None,
        **settings_arguments: Any,
    ) -> None:
        """Build the worker's toolset (no request yet).

        Args:
            task: task id or tool name.
            model: model id or endpoint URL.
            mapping: ``{argument: column}``.
            id_column: the id column (default ``custom_id``, then ``id``).
            concurrency: calls in flight per worker.
            rows_per_request: texts per request (feature extraction, sentence embeddings).
            max_rps: requests per second at most, for the whole Ray job.
            **settings_arguments: arguments of :meth:`Settings.create` (``provider``...).
        """
        spec = get_spec(task)
        settings = batch_settings(None, **with_model(settings_arguments, spec.task, model))
        self._loop = asyncio.new_event_loop()
        self._toolset = Toolset(settings, tasks=[spec.task])
        self._tool = self._toolset.get(spec.task)
        # One throttle for the worker's life: what a batch learnt of the limits holds for the next.
        self._throttle = Throttle(
            concurrency, max_rps, budget=None if max_rps is None else _shared_rate(max_rps)
        )
        self._options: dict[str, Any] = {
            "mapping": dict(mapping or {}),
            "id_column": id_column,
            "concurrency": concurrency,
            "rows_per_request": rows_per_request,
            "max_rps": max_rps,
        }

    def __call__(self, batch: Any) -> Any:
        """Run one batch (a ``pyarrow.Table``, or a dict of columns) -> a ``pyarrow.Table``."""
        import pyarrow as pa

        rows = batch.to_pylist() if hasattr(batch, "to_pylist") else _dict_rows(batch)
        no_id = rows and not any(c in rows[0] for c in _ID_COLUMNS)
        if no_id and self._options["id_column"] is None:
            msg = "Ray rows need an id column (custom_id, id, or name one): none found"
            raise ConfigurationError(msg)
        sink = MemorySink()
        runner = Runner(self._tool, sink, throttle=self._throttle, **self._options)
        try:
            self._loop.run_until_complete(runner.run(Source(rows, len(rows))))
        except BatchStopped as stopped:
            raise RuntimeError(stopped.failure.text) from None
        return pa.table(parquet_columns(sink.records))

    def __del__(self) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.run_until_complete(self._toolset.aclose())
            loop.close()


def rate_budget(max_rps: float) -> Any:
    """The job's :class:`RateBudget` actor at ``max_rps``: got by its name, or created.

    Its name holds the Ray job's id and the rate, so every worker of the job finds the same
    one. It takes no CPU (the workers would wait for it on a small node).
    """
    import ray

    name = f"hf-tools-rate-{ray.get_runtime_context().get_job_id()}-{max_rps:g}"
    actor = ray.remote(RateBudget).options(
        name=name, get_if_exists=True, num_cpus=0, max_restarts=0
    )
    return actor.remote(max_rps)


def _shared_rate(max_rps: float) -> SharedRate | None:
    """The job's budget, seen from this worker; None outside Ray (a plain process)."""
    import ray

    if not ray.is_initialized():  # not a Ray worker: creating an actor would start a cluster
        return None
    try:
        actor = rate_budget(max_rps)
    except Exception as exc:  # no budget: this worker paces itself rather than fail the job
        _log.warning("no shared rate budget (%s): this worker throttles on its own", exc)
        return None

    async def lease(count: int) -> list[float]:
        slots: list[float] = await actor.lease.remote(count)
        return slots

    return SharedRate(max_rps, lease, actor.pause.remote)


def _dict_rows(batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    columns = {name: list(values) for name, values in batch.items()}
    count = len(next(iter(columns.values()), []))
    return [{name: values[i] for name, values in columns.items()} for i in range(count)]


def _failed(row: Mapping[str, Any]) -> bool:
    return row["error"] is not None


def _read(ray: Any, path: str) -> Any:
    readers = {".jsonl": ray.data.read_json, ".csv": ray.data.read_csv}
    for suffix, reader in readers.items():
        if path.endswith(suffix):
            return reader(path)
    return ray.data.read_parquet(path)


def run_on_ray(
    ns: argparse.Namespace, mapping: Mapping[str, str], settings: Mapping[str, Any]
) -> int:
    """``hf-tools batch --ray ADDRESS``: the job on a cluster, Parquet written to ``--output``.

    ``--ray auto`` joins the cluster this machine runs (or ``RAY_ADDRESS``), else starts a
    local one. ``settings`` are :meth:`Settings.create`'s arguments, sent to each worker.
    Rows are not resumed (Ray's own retries cover lost workers).
    """
    try:
        import ray
    except ImportError:
        msg = "--ray needs Ray: pip install 'hf-tools[ray]'"
        raise ConfigurationError(msg) from None
    ray.init(address=None if ns.ray == "auto" else ns.ray, ignore_reinit_error=True)
    # Owned by the driver, not by a worker the pool may let go; not detached, so it would end
    # with the driver anyway: killed here so that joining a cluster leaves nothing behind.
    budget = None if ns.max_rps is None else rate_budget(ns.max_rps)
    try:
        out = _read(ray, str(ns.input)).map_batches(
            BatchPredictor,
            fn_constructor_kwargs={
                "task": ns.task,
                "mapping": dict(mapping),
                "id_column": ns.id_column,
                "concurrency": ns.concurrency,
                "rows_per_request": ns.rows_per_request,
                "max_rps": ns.max_rps,
                **settings,
            },
            compute=ray.data.ActorPoolStrategy(size=ns.ray_workers),
            num_cpus=WORKER_CPUS,
            batch_format="pyarrow",
        )
        out = out.materialize()
        out.write_parquet(str(ns.output))
        failed = out.filter(_failed).count()
        total = out.count()
    finally:
        if budget is not None:
            ray.kill(budget)
        ray.shutdown()
    print(f"done {total - failed}, failed {failed}; Parquet in {ns.output}")  # noqa: T201
    return 1 if failed else 0
