"""The same labelling job through Ray Data on a local cluster (the ``ray`` extra).

``BatchPredictor`` is a callable class for ``map_batches``: each Ray worker holds one async
client and runs its batches through the same runner as ``hf-tools batch`` (throttle, one
record per row, errors kept per row). On a real cluster, ``ray.init(address="auto")``.

Live:    HF_TOKEN=hf_... python examples/batch_ray.py
Offline: HF_TOOLS_REPLAY=1 python examples/batch_ray.py   (each worker replays the recording)
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import ray

from hf_tools.ray import BatchPredictor
from hf_tools.testing import is_replaying, replay

REVIEWS = [
    "I like you",
    "The battery died after two days.",
    "Fast shipping, works as described.",
    "Not worth the money.",
    "My kids love it.",
]


class Labeller(BatchPredictor):
    """The predictor, replaying the recording in its worker when offline."""

    def __init__(self, **options: Any) -> None:
        if is_replaying():  # each worker is its own process: it replays there
            self._replay = replay("text-classification/batch.yaml")
            self._replay.__enter__()
        super().__init__(**options)


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)  # Ray's own
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        rows = [{"custom_id": f"review-{i}", "body": text} for i, text in enumerate(REVIEWS)]
        labelled = ray.data.from_items(rows).map_batches(
            Labeller,
            fn_constructor_kwargs={"task": "text-classification", "mapping": {"text": "body"}},
            compute=ray.data.ActorPoolStrategy(size=2),  # 2 workers
            num_cpus=0.5,  # they wait on the network
            batch_size=2,
            batch_format="pyarrow",
        )
        records = {r["id"]: r for r in labelled.take_all()}
    finally:
        ray.shutdown()
    for row in rows:
        record = records[json.dumps(row["custom_id"])]
        top = json.loads(record["output"])["labels"][0]
        print(f"{top['label']:<10} {row['body']}")


if __name__ == "__main__":
    main()
