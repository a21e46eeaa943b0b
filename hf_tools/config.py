"""Settings shared by the clients, the tools and the chat model.

One frozen :class:`Settings` object holds everything a request needs; it is built once from
constructor arguments and the environment (``HF_TOKEN`` or the token file of
``hf auth login``) and never prints the api key.
"""

from __future__ import annotations

import inspect
import math
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from hf_tools.defaults import DEFAULT_AGENT_MODEL
from hf_tools.errors import ConfigurationError
from hf_tools.providers._base import DEFAULT_ROUTER_URL, HF_INFERENCE, is_url

__all__ = [
    "AUTO",
    "DEFAULT_AGENT_MODEL",
    "DEFAULT_BASE_URL",
    "DEFAULT_HUB_URL",
    "DEFAULT_MAX_BINARY_BYTES",
    "DEFAULT_MAX_JSON_BYTES",
    "DEFAULT_MAX_MEDIA_BYTES",
    "DEFAULT_ROUTER_URL",
    "HF_INFERENCE",
    "MIN_CONTENT_CHARS",
    "SETTINGS_PARAMETERS",
    "RetryPolicy",
    "Settings",
    "check_model",
    "check_token",
    "is_hf_host",
    "is_url",
    "require_token",
    "secret",
    "settings_arguments",
    "stored_token",
]

DEFAULT_BASE_URL = f"{DEFAULT_ROUTER_URL}/hf-inference"
DEFAULT_HUB_URL = "https://huggingface.co"
AUTO = "auto"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_MAX_CONTENT_CHARS = 4000
DEFAULT_MAX_MEDIA_BYTES = 20 * 1024 * 1024
# Caps on answer bodies, counted after decompression: JSON answers are small in practice
# (a long chat answer is ~100 KB); binary ones (images, audio) get more room.
DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_BINARY_BYTES = 64 * 1024 * 1024
# Below this, the truncation note alone would not fit, let alone a useful answer.
MIN_CONTENT_CHARS = 200

# Hosts that may receive the token from the environment; an explicit api_key goes anywhere.
_HF_HOST_SUFFIXES = ("huggingface.co", "hf.space", "huggingface.cloud")


# A token is one short line: a file longer than this is not one (`/dev/zero` gave 4,096 NULs).
_MAX_TOKEN_FILE = 4096


def stored_token() -> str | None:
    """The token as huggingface_hub finds it, without importing it.

    ``HF_TOKEN``, then the file ``hf auth login`` writes: ``HF_TOKEN_PATH``, else
    ``$HF_HOME/token`` (``HF_HOME`` defaults to ``$XDG_CACHE_HOME/huggingface``, then
    ``~/.cache/huggingface``). A missing, unreadable or empty file counts as no token.

    Raises:
        ConfigurationError: the file is no regular file (a FIFO would block forever, a device
            gives endless bytes), is larger than a token can be, or the token is malformed.
    """
    token = os.environ.get("HF_TOKEN", "").strip()
    if token:
        return check_token(token, "the HF_TOKEN environment variable")
    path = os.environ.get("HF_TOKEN_PATH")
    if not path:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        home = os.environ.get("HF_HOME") or os.path.join(cache, "huggingface")
        path = os.path.join(home, "token")
    return read_token_file(os.path.expanduser(path))


def read_token_file(path: str) -> str | None:
    """The token in the file at ``path``; None when it is missing, unreadable or empty.

    Every token file goes through here (``hf auth login``'s, ``--token-file``, the MCP
    server's ``--auth-token-file``): a regular file, capped, opened without blocking.

    Raises:
        ConfigurationError: no regular file, too large, not UTF-8, or a malformed token.
    """
    data = _read_token_file(path)
    if data is None:
        return None
    where = f"the token file {path}"
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        msg = f"{where} is not UTF-8 text: it cannot hold a token"
        raise ConfigurationError(msg) from None
    return check_token(token, where) if token else None


def _read_token_file(path: str) -> bytes | None:
    """The bytes of a regular file of at most ``_MAX_TOKEN_FILE`` bytes; None when absent."""
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):  # missing, unreadable, or a path with a NUL
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            msg = f"the token file {path} is not a regular file"
            raise ConfigurationError(msg)
        if info.st_size > _MAX_TOKEN_FILE:
            msg = f"the token file {path} is {info.st_size} bytes: too large to hold a token"
            raise ConfigurationError(msg)
        return os.read(fd, _MAX_TOKEN_FILE + 1)[:_MAX_TOKEN_FILE]
    except OSError:
        return None
    finally:
        os.close(fd)


def check_token(token: str, where: str) -> str:
    """``token`` if it can go in an Authorization header; a ConfigurationError otherwise.

    A newline, NUL, space or non-ASCII character would otherwise surface at the first call,
    to the LLM, as "connection failed" or "fix the arguments". The message names where the
    token came from, never the token.
    """
    if token.isascii() and token.isprintable() and " " not in token:
        return token
    bad = next(c for c in token if not (c.isascii() and c.isprintable()) or c == " ")
    kind = f"character U+{ord(bad):04X}"
    msg = f"the token from {where} holds a {kind}: it cannot be a Hugging Face token"
    raise ConfigurationError(msg)


def check_model(where: str, model: object) -> str:
    """``model`` if it can be a model id or an endpoint URL; a ConfigurationError otherwise."""
    if not isinstance(model, str) or not model.strip() or " " in model:
        msg = f"{where} must be a model id or an endpoint URL, got {model!r}"
        raise ConfigurationError(msg)
    return model


def _checked_url(name: str, url: str) -> str:
    """``url`` without a trailing slash, or a ConfigurationError if it is not http(s)."""
    url = url.rstrip("/")
    if not is_url(url):
        msg = f"{name} must start with http:// or https://, got {url!r}"
        raise ConfigurationError(msg)
    return url


def _provider_choice(
    provider: str | None,
    providers: Mapping[str, str] | None,
    order: Sequence[str] | None,
) -> dict[str, Any]:
    """The provider settings, names checked and ``providers`` keyed by task id.

    Raises:
        ConfigurationError: an unknown provider or task name; the message lists the known ones.
    """
    if provider is None and not providers and order is None:
        return {}  # the hf-inference path: no need to load the provider registry
    from hf_tools.providers import REGISTRY  # lazily: the registry imports every task

    known = dict.fromkeys([AUTO, HF_INFERENCE, *(p for p, _ in REGISTRY)])

    def check(where: str, name: object, *, auto: bool = True) -> str:
        if not isinstance(name, str) or name not in known or (name == AUTO and not auto):
            names = ", ".join(k for k in known if auto or k != AUTO)
            msg = f"{where} must be one of {names}; got {name!r}"
            raise ConfigurationError(msg)
        return name

    by_task = {
        task_id("providers", key): check(f"providers[{key!r}]", name)
        for key, name in (providers or {}).items()
    }
    return {
        "provider": None if provider is None else check("provider", provider),
        "providers": by_task,
        "provider_order": None
        if order is None
        else tuple(check("provider_order item", p, auto=False) for p in order),
    }


def task_id(where: str, key: str) -> str:
    """The task id a ``models`` or ``providers`` key names: a task id or a tool name.

    Raises:
        ConfigurationError: the key names no task; the message lists the known ones.
    """
    from hf_tools.tasks import get_spec  # lazily: the tasks import this module

    try:
        return get_spec(key).task
    except ConfigurationError as exc:
        msg = f"{where}: {exc}"
        raise ConfigurationError(msg) from None


def _positive(name: str, value: float, *, zero: bool = False) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        kind = "a finite number >= 0" if zero else "a positive finite number"
        msg = f"{name} must be {kind}, got {value}"
        raise ConfigurationError(msg)


def secret(value: str | SecretStr | None) -> SecretStr | None:
    """``value`` as a SecretStr (None stays None)."""
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


def is_hf_host(url: str) -> bool:
    """Whether ``url`` belongs to Hugging Face (router, Hub, Spaces, Inference Endpoints)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == s or host.endswith("." + s) for s in _HF_HOST_SUFFIXES)


NO_TOKEN_ADVICE = "pass api_key=..., set the HF_TOKEN environment variable or run `hf auth login`"
"""How a Python caller gives a token (the commands say it their way: ``cli/messages.py``)."""


def require_token(settings: Settings, urls: Iterable[str]) -> None:
    """Refuse, before any request, calls to a Hugging Face host when there is no token.

    The one check of every host (library calls, the commands, the MCP server, the batch
    runner, the agents and the chatbot server): ``urls`` are where their calls go. A URL of
    another server needs no token (an env token never goes there anyway).

    Raises:
        ConfigurationError: one of ``urls`` is a Hugging Face host and ``settings`` hold no
            token; the one message says how to give one.
    """
    if settings.api_key is not None:
        return
    host = next((urlsplit(url).hostname for url in urls if is_hf_host(url)), None)
    if host is not None:
        msg = (
            f"no Hugging Face token for {host}: {NO_TOKEN_ADVICE} (a server of your own,"
            " base_url=..., needs none)"
        )
        raise ConfigurationError(msg)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up; every wait is bounded.

    Attributes:
        max_retries: retries after the first attempt.
        backoff_base: first backoff in seconds (doubles each retry, full jitter).
        backoff_cap: longest single backoff.
        max_loading_wait: longest wait for a loading model (its ``estimated_time`` is capped).
        max_retry_after: longest wait honoured from a ``Retry-After`` header.
        max_total_wait: all waits of one call together never exceed this.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_loading_wait: float = 30.0
    max_retry_after: float = 30.0
    max_total_wait: float = 60.0

    def __post_init__(self) -> None:
        """Refuse numbers that would unbound the waits (negative, NaN, infinite)."""
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            msg = f"max_retries must be an int >= 0, got {self.max_retries!r}"
            raise ConfigurationError(msg)
        for f in fields(self):
            _positive(f.name, getattr(self, f.name), zero=True)


@dataclass(frozen=True)
class Settings:
    """Everything a request needs. Build with :meth:`Settings.create`.

    Attributes:
        api_key: the Hugging Face token, or None (repr never shows it).
        key_from_env: the key came from ``HF_TOKEN``, so it is sent only to Hugging Face hosts.
        base_url: the serverless router, or a dedicated endpoint when ``is_custom_endpoint``.
        is_custom_endpoint: POST every task to ``base_url`` as-is.
        models: per-task model id or endpoint URL.
        use_cache: sent as ``x-use-cache`` when set.
        wait_for_model: sent as ``x-wait-for-model`` when set.
        timeout: seconds one call may take in total: connect, every read, every retry wait
            (and a whole media download).
        retry: the retry policy.
        max_content_chars: bound on the text a tool hands to the LLM.
        output_dir: where tools save binary outputs (images, masks), if anywhere.
        allowed_roots: folders local media paths may come from; None means the working
            directory, an empty tuple no local files at all.
        allow_private_urls: let media URLs point at loopback/private addresses.
        max_media_bytes: largest image/audio input accepted.
        max_json_bytes: largest JSON answer body read (after decompression).
        max_binary_bytes: largest answer of a task that returns bytes (images, audio), and
            of a provider's result file.
        provider: None, the default: ``"auto"`` when a token is set, else hf-inference;
            ``"auto"`` (the first live provider the Hub maps the model to that hf-tools has
            an adapter for, one Hub lookup per model per process); ``"hf-inference"`` (every
            task there, no Hub lookup: the behaviour before "auto" became the default); or
            a provider name.
        providers: per-task provider, overriding ``provider``.
        router_url: provider calls go to ``{router_url}/{provider}/...``.
        hub_url: model info (``inferenceProviderMapping``) comes from ``{hub_url}/api/models``.
        bill_to: sent as ``X-HF-Bill-To`` on router calls (an organization pays).
        provider_order: for ``"auto"``: the providers to consider, best first.
        base_url_given: ``base_url`` was passed: tasks without a ``providers`` entry go there.
    """

    # A SecretStr, so a traceback formatted with its locals never shows the key.
    api_key: SecretStr | None = field(default=None, repr=False)
    key_from_env: bool = field(default=False, repr=False)
    base_url: str = DEFAULT_BASE_URL
    is_custom_endpoint: bool = False
    models: Mapping[str, str] = field(default_factory=dict)
    use_cache: bool | None = None
    wait_for_model: bool | None = None
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS
    output_dir: Path | None = None
    allowed_roots: tuple[Path, ...] | None = None
    allow_private_urls: bool = False
    max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    max_binary_bytes: int = DEFAULT_MAX_BINARY_BYTES
    provider: str | None = None
    providers: Mapping[str, str] = field(default_factory=dict)
    router_url: str = DEFAULT_ROUTER_URL
    hub_url: str = DEFAULT_HUB_URL
    bill_to: str | None = None
    provider_order: tuple[str, ...] | None = None
    base_url_given: bool = False

    @classmethod
    def create(
        cls,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        is_custom_endpoint: bool = False,
        models: Mapping[str, str] | None = None,
        use_cache: bool | None = None,
        wait_for_model: bool | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        *,
        retry: RetryPolicy | None = None,
        max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS,
        output_dir: str | os.PathLike[str] | None = None,
        allowed_roots: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        allow_private_urls: bool = False,
        max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
        max_binary_bytes: int = DEFAULT_MAX_BINARY_BYTES,
        provider: str | None = None,
        providers: Mapping[str, str] | None = None,
        router_url: str | None = None,
        hub_url: str | None = None,
        bill_to: str | None = None,
        provider_order: Sequence[str] | None = None,
        **unexpected: Any,
    ) -> Settings:
        """Validate arguments, fill defaults and read ``HF_TOKEN`` when no key is given.

        The one place the settings are stated: every adapter (HFClient, AsyncHFClient, the
        toolkit, the CLI, the agents) takes these arguments, or a ready ``Settings``
        (``settings=``). See :class:`Settings` for what each means; ``max_retries`` overrides
        ``retry``'s.

        Raises:
            ConfigurationError: a URL or number that cannot work.
            TypeError: an argument that is no setting (the message lists the settings).
        """
        if unexpected:
            known = ", ".join(sorted(SETTINGS_PARAMETERS))
            msg = f"unexpected argument(s) {sorted(unexpected)}; the settings are: {known}"
            raise TypeError(msg)
        api_key = secret(api_key)  # no plain-string local from here on
        if api_key is not None:
            check_token(api_key.get_secret_value(), "api_key")
        key_from_env = False
        if api_key is None:
            api_key = secret(stored_token())
            key_from_env = api_key is not None
        router = _checked_url("router_url", router_url or DEFAULT_ROUTER_URL)
        hub = _checked_url("hub_url", hub_url or os.environ.get("HF_ENDPOINT") or DEFAULT_HUB_URL)
        base = _checked_url("base_url", base_url or f"{router}/{HF_INFERENCE}")
        choice = _provider_choice(provider, providers, provider_order)
        if is_custom_endpoint and base_url is None:
            msg = "is_custom_endpoint=True needs base_url: the endpoint URL to POST to"
            raise ConfigurationError(msg)
        models = {task_id("models", key): model for key, model in (models or {}).items()}
        for task, model in models.items():
            check_model(f"models[{task!r}]", model)
        if timeout is not None:
            _positive("timeout", timeout)
        if max_retries is not None and max_retries < 0:
            msg = f"max_retries must be >= 0, got {max_retries}"
            raise ConfigurationError(msg)
        retry = retry or RetryPolicy()
        if max_retries is not None:
            retry = replace(retry, max_retries=max_retries)
        if not isinstance(max_content_chars, int) or max_content_chars < MIN_CONTENT_CHARS:
            msg = (
                f"max_content_chars must be an int >= {MIN_CONTENT_CHARS},"
                f" got {max_content_chars!r}"
            )
            raise ConfigurationError(msg)
        limits = {
            "max_media_bytes": max_media_bytes,
            "max_json_bytes": max_json_bytes,
            "max_binary_bytes": max_binary_bytes,
        }
        for name, value in limits.items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                msg = f"{name} must be a positive int (bytes), got {value!r}"
                raise ConfigurationError(msg)
        if isinstance(allowed_roots, str | os.PathLike):  # one folder, not its characters
            allowed_roots = (allowed_roots,)
        roots = None if allowed_roots is None else tuple(Path(p).resolve() for p in allowed_roots)
        return cls(
            api_key=api_key,
            key_from_env=key_from_env,
            base_url=base,
            is_custom_endpoint=is_custom_endpoint,
            models=dict(models or {}),
            use_cache=use_cache,
            wait_for_model=wait_for_model,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            retry=retry,
            max_content_chars=max_content_chars,
            output_dir=Path(output_dir) if output_dir is not None else None,
            allowed_roots=roots,
            allow_private_urls=allow_private_urls,
            router_url=router,
            hub_url=hub,
            bill_to=bill_to or None,
            base_url_given=base_url is not None,
            max_media_bytes=max_media_bytes,
            max_json_bytes=max_json_bytes,
            max_binary_bytes=max_binary_bytes,
            **choice,
        )

    def secrets(self) -> tuple[str, ...]:
        """What no text handed to an LLM may show, in any form: the api key."""
        return () if self.api_key is None else (self.api_key.get_secret_value(),)

    def key_for(self, url: str) -> str | None:
        """The token to send to ``url``: an env token only reaches Hugging Face hosts."""
        if self.api_key is None:
            return None
        if self.key_from_env and not is_hf_host(url):
            return None
        return self.api_key.get_secret_value()

    def provider_for(self, task: str) -> str | None:
        """Who serves ``task``: a provider name, ``"auto"``, or None (hf-inference, no lookup).

        With no provider chosen: ``"auto"`` when a token is set (as huggingface_hub's
        InferenceClient), else None (without a token only hf-inference's path was ever open).
        None for ``"hf-inference"``, or for an explicit ``base_url`` (a hf-inference-format
        server) unless ``providers`` names one for the task.

        Raises:
            ConfigurationError: the named provider has no adapter for ``task``.
        """
        chosen = self.providers.get(task)
        if chosen is None:
            if self.base_url_given or self.is_custom_endpoint:
                return None  # base_url keeps its meaning: a hf-inference-format server
            chosen = self.provider
            if chosen is None and self.api_key is not None:
                chosen = AUTO
        if chosen is None or chosen == HF_INFERENCE:
            return None  # hf-inference speaks the Hub model id itself: nothing to look up
        if chosen != AUTO:
            from hf_tools.providers import get_adapter  # the registry imports every task

            get_adapter(chosen, task)
        return chosen

    def endpoint_for(self, task: str) -> str | None:
        """Where an endpoint-only task (``custom``) goes; None when nothing is configured.

        Its ``models`` URL, or ``base_url`` when that is itself the endpoint.
        """
        return self.models.get(task) or (self.base_url if self.is_custom_endpoint else None)

    def media_roots(self) -> tuple[Path, ...]:
        """Folders local media may be read from (default: the working directory; () none)."""
        return (Path.cwd().resolve(),) if self.allowed_roots is None else self.allowed_roots


SETTINGS_PARAMETERS: tuple[str, ...] = tuple(
    name
    for name, param in inspect.signature(Settings.create).parameters.items()
    if param.kind is not inspect.Parameter.VAR_KEYWORD
)
"""The arguments :meth:`Settings.create` takes, in order: the settings every adapter accepts."""


def settings_arguments(source: object) -> dict[str, Any]:
    """The :meth:`Settings.create` arguments an adapter holds as attributes of the same names.

    For adapters that must declare their options themselves (pydantic models such as the
    toolkit): they forward every setting by name, so none is restated in a call.
    """
    return {name: getattr(source, name) for name in SETTINGS_PARAMETERS if hasattr(source, name)}
