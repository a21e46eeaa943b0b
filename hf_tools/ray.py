"""The same bulk job on a Ray cluster: :class:`BatchPredictor` for ``Dataset.map_batches``.

The public name of :mod:`hf_tools.batch.on_ray` (its documentation is there)::

    from hf_tools.ray import BatchPredictor

Needs the ``ray`` extra: ``pip install 'hf-tools[ray]'``.
"""

from hf_tools.batch.on_ray import WORKER_CPUS, BatchPredictor, run_on_ray

__all__ = ["WORKER_CPUS", "BatchPredictor", "run_on_ray"]
