"""InferenceClient parity, counted over the installed huggingface_hub's own registries.

Every (provider, task) pair of ``huggingface_hub.inference._providers.PROVIDERS`` has an
adapter here or is in :data:`hf_tools.providers.LEFT_OUT` with its reason; every task method
of ``InferenceClient`` has a tool. A huggingface_hub upgrade that adds a pair or a task fails
here until it is adapted or listed.
"""

from __future__ import annotations

import inspect

from huggingface_hub import InferenceClient
from huggingface_hub.inference._providers import PROVIDERS

from hf_tools.providers import LEFT_OUT, REGISTRY
from hf_tools.tasks import REGISTRY as TASKS

# InferenceClient methods that are not tasks, and the one task whose tool is named otherwise.
NOT_TASKS = {"close", "get_endpoint_info", "health_check"}
TOOL_OF = {"chat_completion": "conversational"}


def _their_pairs() -> set[tuple[str, str]]:
    return {(provider, task) for provider, tasks in PROVIDERS.items() for task in tasks}


def test_every_provider_task_pair_has_an_adapter_or_a_reason() -> None:
    missing = _their_pairs() - set(REGISTRY) - set(LEFT_OUT)
    assert missing == set()
    assert all(len(why) > 40 for why in LEFT_OUT.values())  # a reason, not a placeholder
    assert set(LEFT_OUT) <= _their_pairs()  # nothing listed that is not theirs
    assert set(LEFT_OUT).isdisjoint(REGISTRY)  # nor anything we do adapt


def test_every_inference_client_task_method_has_a_tool() -> None:
    methods = {
        name
        for name, _ in inspect.getmembers(InferenceClient, inspect.isfunction)
        if not name.startswith("_")
    } - NOT_TASKS
    tools = {spec.tool_name for spec in TASKS.values()}
    assert {TOOL_OF.get(m, m) for m in methods} - tools == set()
    assert len(methods) == 29  # huggingface_hub 2.4: a new task method shows up here first


def test_the_parity_count() -> None:
    pairs = _their_pairs()
    adapted = pairs & set(REGISTRY)
    assert (len(pairs), len(adapted), len(LEFT_OUT)) == (74, 73, 1)
