"""Routing: the Hub's provider mapping (both shapes), auto/named resolution, the lookup cache."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
import yaml

from hf_tools.errors import ConfigurationError, ResponseFormatError
from hf_tools.providers import speaks
from hf_tools.routing import (
    MappingCache,
    NoProviderError,
    ProviderMapping,
    Route,
    alookup,
    lookup,
    mapping_url,
    parse_mapping,
    resolve,
)

from .conftest import CASSETTES

HUB = "https://huggingface.co"
LLAMA = "meta-llama/Llama-3.3-70B-Instruct"
FLUX = "black-forest-labs/FLUX.1-schnell"


def _hub_body(name: str) -> Any:
    path = CASSETTES / "providers" / "hub" / "inference-provider-mapping" / f"{name}.yaml"
    interaction = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"][0]
    return json.loads(interaction["response"]["body"]["string"]), interaction["request"]["uri"]


OBJECT_FORM, OBJECT_URL = _hub_body("object-form")  # recorded, router era
LIST_FORM, LIST_URL = _hub_body("list-form")  # from huggingface_hub's documented shape


def test_the_lookup_url_is_the_hubs_model_info_with_the_mapping_expanded() -> None:
    assert mapping_url(HUB + "/", LLAMA) == OBJECT_URL
    assert mapping_url(HUB, FLUX) == LIST_URL
    assert mapping_url("http://127.0.0.1:8", "a b/c") == (
        "http://127.0.0.1:8/api/models/a%20b/c?expand[]=inferenceProviderMapping"
    )


def test_the_object_form_keeps_the_hubs_order_ids_and_statuses() -> None:
    mappings = parse_mapping(OBJECT_FORM)
    assert mappings[0] == ProviderMapping(
        "fireworks-ai",
        "accounts/fireworks/models/llama-v3p3-70b-instruct",
        "live",
        "conversational",
    )
    assert [m.provider for m in mappings][:4] == [
        "fireworks-ai",
        "sambanova",
        "together",
        "hf-inference",
    ]
    assert all(m.task == "conversational" for m in mappings)


def test_the_list_form_reads_the_same_way() -> None:
    mappings = parse_mapping(LIST_FORM)
    assert [(m.provider, m.live) for m in mappings] == [
        ("hf-inference", False),
        ("fal-ai", True),
        ("replicate", True),
        ("together", True),
        ("nscale", True),
    ]
    assert mappings[1].provider_id == "fal-ai/flux/schnell"


def test_both_forms_of_one_mapping_resolve_alike() -> None:
    as_list = {
        "id": LLAMA,
        "inferenceProviderMapping": [
            {"provider": p, **entry} for p, entry in OBJECT_FORM["inferenceProviderMapping"].items()
        ],
    }
    assert parse_mapping(as_list) == parse_mapping(OBJECT_FORM)


def test_a_model_without_providers_has_no_mapping_and_junk_is_refused() -> None:
    assert parse_mapping({"id": "x"}) == ()
    assert parse_mapping({"inferenceProviderMapping": [{"provider": "a"}, "junk"]}) == ()
    with pytest.raises(ResponseFormatError):
        parse_mapping(["not", "a", "model"])
    with pytest.raises(ResponseFormatError):
        parse_mapping({"inferenceProviderMapping": "fal-ai"})


def test_auto_takes_the_first_live_provider_in_the_hubs_order() -> None:
    route = resolve(parse_mapping(OBJECT_FORM), task="conversational", model=LLAMA, speaks=speaks)
    assert route == Route("fireworks-ai", "accounts/fireworks/models/llama-v3p3-70b-instruct")


def test_auto_skips_staging_but_a_named_provider_may_be_staging() -> None:
    mappings = parse_mapping(LIST_FORM)
    assert resolve(mappings, task="text-to-image", model=FLUX) == Route(
        "fal-ai", "fal-ai/flux/schnell"
    )
    named = resolve(mappings, task="text-to-image", model=FLUX, provider="hf-inference")
    assert named == Route("hf-inference", FLUX)


def test_auto_follows_and_is_limited_to_the_users_provider_order() -> None:
    mappings = parse_mapping(LIST_FORM)
    route = resolve(
        mappings, task="text-to-image", model=FLUX, provider_order=["nscale", "together"]
    )
    assert route == Route("nscale", FLUX)
    with pytest.raises(NoProviderError, match=r"none of groq serves .* live providers: fal-ai,"):
        resolve(mappings, task="text-to-image", model=FLUX, provider_order=["groq"])


def test_auto_never_picks_a_provider_hf_tools_cannot_speak() -> None:
    mappings = (
        ProviderMapping("clarifai", "c/flux", "live", "text-to-image"),
        ProviderMapping("replicate", "b/flux", "live", "text-to-image"),
    )
    route = resolve(mappings, task="text-to-image", model=FLUX, speaks=speaks)
    assert route == Route("replicate", "b/flux")
    with pytest.raises(
        NoProviderError, match=r"cannot send text-to-image to clarifai .*: replicate \["
    ):
        resolve(mappings, task="text-to-image", model=FLUX, provider="clarifai", speaks=speaks)


def test_a_named_provider_that_does_not_serve_the_task_names_those_that_do() -> None:
    with pytest.raises(NoProviderError) as info:
        resolve(parse_mapping(LIST_FORM), task="text-to-image", model=FLUX, provider="groq")
    assert "not served for text-to-image by groq" in str(info.value)
    assert info.value.fitting == ("hf-inference", "fal-ai", "replicate", "together", "nscale")
    assert isinstance(info.value, ConfigurationError)  # fails before any inference call


def test_no_provider_for_the_task_says_what_the_model_is_mapped_for() -> None:
    with pytest.raises(
        NoProviderError,
        match=r"no provider serves .* for text-to-image; it is mapped for conversational",
    ):
        resolve(parse_mapping(OBJECT_FORM), task="text-to-image", model=LLAMA)
    with pytest.raises(NoProviderError, match="it has no provider at all"):
        resolve((), task="text-to-image", model="x/y")


def test_only_staging_providers_tell_the_user_to_name_one() -> None:
    mappings = (ProviderMapping("fal-ai", "f", "staging", "text-to-image"),)
    with pytest.raises(
        NoProviderError, match=r"only in staging .*fal-ai.*name the provider"
    ) as info:
        resolve(mappings, task="text-to-image", model=FLUX)
    assert info.value.fitting == ("fal-ai",)


def test_sentence_embeddings_resolve_through_the_hubs_feature_extraction_entries() -> None:
    mappings = (ProviderMapping("scaleway", "bge", "live", "feature-extraction"),)
    assert resolve(mappings, task="sentence-embeddings", model="x") == Route("scaleway", "bge")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counting_fetch(body: Any) -> tuple[list[str], Any]:
    calls: list[str] = []

    def fetch(url: str) -> Any:
        calls.append(url)
        return body

    return calls, fetch


def test_a_cache_hit_makes_no_second_lookup() -> None:
    cache = MappingCache()
    calls, fetch = counting_fetch(LIST_FORM)
    first = lookup(FLUX, fetch, hub_url=HUB, cache=cache)
    assert lookup(FLUX, fetch, hub_url=HUB, cache=cache) == first
    assert calls == [LIST_URL]


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = MappingCache(ttl=60, clock=clock)
    calls, fetch = counting_fetch(LIST_FORM)
    cache.get(LIST_URL, fetch)
    clock.now = 59.9
    cache.get(LIST_URL, fetch)
    assert len(calls) == 1
    clock.now = 60.0
    cache.get(LIST_URL, fetch)
    assert len(calls) == 2


def test_the_cache_is_bounded_least_recently_used_first_out() -> None:
    cache = MappingCache(maxsize=2)
    calls, fetch = counting_fetch(LIST_FORM)
    for url in ("a", "b", "a", "c"):  # "a" used again, so "b" is the one evicted
        cache.get(url, fetch)
    assert len(cache) == 2
    cache.get("a", fetch)
    assert calls == ["a", "b", "c"]
    cache.get("b", fetch)
    assert calls == ["a", "b", "c", "b"]


def test_a_failed_lookup_is_not_cached() -> None:
    cache = MappingCache()
    answers: list[Any] = [OSError("hub down"), LIST_FORM]

    def fetch(url: str) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(OSError, match="hub down"):
        cache.get(LIST_URL, fetch)
    assert len(cache.get(LIST_URL, fetch)) == 5
    assert answers == []


async def test_concurrent_first_async_calls_share_one_lookup() -> None:
    cache = MappingCache()
    calls: list[str] = []
    release = asyncio.Event()

    async def fetch(url: str) -> Any:
        calls.append(url)
        await release.wait()
        return LIST_FORM

    waiting = [
        asyncio.ensure_future(alookup(FLUX, fetch, hub_url=HUB, cache=cache)) for _ in range(10)
    ]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting)
    assert calls == [LIST_URL]
    assert all(r == results[0] for r in results) and len(results[0]) == 5
    assert await alookup(FLUX, fetch, hub_url=HUB, cache=cache) == results[0]
    assert len(calls) == 1


async def test_cancelling_one_waiter_does_not_cancel_the_shared_lookup() -> None:
    cache = MappingCache()
    release = asyncio.Event()
    calls: list[str] = []

    async def fetch(url: str) -> Any:
        calls.append(url)
        await release.wait()
        return LIST_FORM

    first = asyncio.ensure_future(cache.aget(LIST_URL, fetch))
    second = asyncio.ensure_future(cache.aget(LIST_URL, fetch))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    release.set()
    assert len(await second) == 5
    assert first.cancelled() and calls == [LIST_URL]


async def test_concurrent_async_waiters_all_get_the_lookups_error() -> None:
    cache = MappingCache()
    release = asyncio.Event()

    async def fetch(url: str) -> Any:
        await release.wait()
        raise OSError("hub down")

    waiting = [asyncio.ensure_future(cache.aget(LIST_URL, fetch)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    assert len(cache) == 0


def test_concurrent_first_calls_from_threads_share_one_lookup() -> None:
    cache = MappingCache()
    calls: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    def fetch(url: str) -> Any:
        calls.append(url)
        entered.set()
        assert release.wait(5)
        return LIST_FORM

    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(LIST_URL, fetch)))
        for _ in range(8)
    ]
    threads[0].start()
    assert entered.wait(5)
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join(5)
    assert calls == [LIST_URL]
    assert len(results) == 8 and all(r == results[0] for r in results)
