"""ONE table of flags, derived from the settings: every command and app takes the same ones.

Each parameter of :meth:`hf_tools.config.Settings.create` has a row here (a test holds the
table to the signature): a flag, and an environment variable named after it
(``--timeout`` is ``HF_TOOLS_TIMEOUT``; repeatable flags take comma-separated values there). A
flag given wins over its variable. The api key is the one setting that never is a flag value
(a command line shows in ``ps``): it comes from ``HF_TOKEN`` or the token file, or from
``--token-file FILE``.

This module imports no LangChain and no HTTP stack: ``hf-tools --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ALLOW_FILES_HINT",
    "CHAT_FLAGS",
    "CHOSEN_ROOTS_HELPS",
    "DEFAULT_OUTPUT_DIR",
    "FLAGS",
    "TASKS",
    "Flag",
    "Repeat",
    "add_chat_flags",
    "add_flags",
    "add_provider_flags",
    "add_settings_flags",
    "chat_key",
    "chosen_roots",
    "env_name",
    "provider_settings",
    "settings_from",
    "task_ids",
    "typed_roots",
]

ENV_PREFIX = "HF_TOOLS_"
# Where `call`, `agent` and the assistant put generated media unless --output-dir says.
DEFAULT_OUTPUT_DIR = Path("hf-tools-out")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_name(flag: str) -> str:
    """The environment variable of a flag: ``--max-history`` is ``HF_TOOLS_MAX_HISTORY``."""
    return ENV_PREFIX + flag.lstrip("-").upper().replace("-", "_")


def task_ids(value: str | None) -> list[str] | None:
    """A ``--tasks`` option: comma-separated task ids, spaces and empty names dropped."""
    if not value:
        return None
    return [t.strip() for t in value.split(",") if t.strip()]


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    msg = f"expected true or false, got {text!r}"
    raise argparse.ArgumentTypeError(msg)


def _pair(text: str) -> tuple[str, str]:
    """``TASK=VALUE`` (``--task-model``, ``--task-provider``)."""
    task, sep, value = text.partition("=")
    if not sep or not task.strip() or not value.strip():
        msg = f"expected TASK=VALUE, e.g. text-to-image=black-forest-labs/FLUX.1-dev; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return task.strip(), value.strip()


def _token_from(name: str) -> Any:
    """The api key in a token file (as ``hf auth login`` writes it), as a SecretStr."""
    from pydantic import SecretStr

    from hf_tools.config import read_token_file
    from hf_tools.errors import ConfigurationError

    path = Path(name).expanduser()
    try:
        token = read_token_file(str(path))
    except ConfigurationError as exc:
        msg = f"--token-file: {exc.message}"
        raise argparse.ArgumentTypeError(msg) from None
    if not token:
        msg = f"--token-file {path}: missing, unreadable or empty"
        raise argparse.ArgumentTypeError(msg)
    return SecretStr(token)


def _retry(seconds: float) -> Any:
    from hf_tools.config import RetryPolicy

    return RetryPolicy(max_total_wait=seconds)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Flag:
    """One row of the table: a flag, its variable, and how its value becomes a setting.

    Attributes:
        setting: the :meth:`Settings.create` parameter it sets (None: an app's own flag).
        flag: the option, e.g. ``--timeout``.
        help: one line for ``--help``.
        convert: text (from the command line or the variable) to the parsed value.
        to_setting: the parsed value to the setting's value.
        metavar: the value's name in ``--help``.
        repeat: the flag may be given several times (its variable: comma-separated).
        switch: a flag without a value (``store_true``; its variable: true/false).
        either: ``--x`` / ``--no-x``; unset means the setting's default.
    """

    setting: str | None
    flag: str
    help: str
    convert: Callable[[str], Any] = str
    to_setting: Callable[[Any], Any] = _same
    metavar: str | None = None
    repeat: bool = False
    switch: bool = False
    either: bool = False

    @property
    def env(self) -> str:
        """Its environment variable."""
        return env_name(self.flag)

    @property
    def dest(self) -> str:
        """Its attribute on the parsed namespace."""
        return self.flag.lstrip("-").replace("-", "_")


_SECONDS = "SECONDS"
_BYTES = "BYTES"

_ROWS: tuple[Flag, ...] = (
    Flag(
        "api_key",
        "--token-file",
        "read the Hugging Face token from FILE, instead of HF_TOKEN (default: HF_TOKEN, then"
        " `hf auth login`'s file); it goes to Hugging Face hosts only",
        _token_from,
        metavar="FILE",
    ),
    Flag(
        "base_url",
        "--base-url",
        "a hf-inference-format server for the tools (default: the router's hf-inference)",
        metavar="URL",
    ),
    Flag(
        "is_custom_endpoint",
        "--custom-endpoint",
        "--base-url IS a dedicated endpoint: every task POSTs to it as-is",
        switch=True,
    ),
    Flag(
        "models",
        "--task-model",
        "the model id or endpoint URL of one task (repeatable)",
        _pair,
        dict,
        metavar="TASK=MODEL",
        repeat=True,
    ),
    Flag("use_cache", "--use-cache", "send x-use-cache (default: the server's)", either=True),
    Flag(
        "wait_for_model",
        "--wait-for-model",
        "send x-wait-for-model (default: the server's)",
        either=True,
    ),
    Flag(
        "timeout",
        "--timeout",
        "seconds one call may take in all, retries and polling included (default 60;"
        " video jobs take minutes)",
        float,
        metavar=_SECONDS,
    ),
    Flag("max_retries", "--max-retries", "retries of one call (default 3)", int, metavar="N"),
    Flag(
        "retry",
        "--max-retry-wait",
        "seconds all the retry waits of one call may add up to (default 60)",
        float,
        _retry,
        metavar=_SECONDS,
    ),
    Flag(
        "max_content_chars",
        "--max-content-chars",
        "longest tool result text a model reads (default 4000)",
        int,
        metavar="N",
    ),
    Flag(
        "output_dir",
        "--output-dir",
        f"save generated images, audio, video and masks in DIR (default ./{DEFAULT_OUTPUT_DIR}/)",
        Path,
        metavar="DIR",
    ),
    Flag(
        "allowed_roots",
        "--allow-files",
        "let the tools read local media from DIR too (repeatable)",
        Path,
        list,
        metavar="DIR",
        repeat=True,
    ),
    Flag(
        "allow_private_urls",
        "--allow-private-urls",
        "let media URLs reach loopback and private addresses",
        switch=True,
    ),
    Flag(
        "max_media_bytes",
        "--max-media-bytes",
        "largest image or audio input (default 20 MiB)",
        int,
        metavar=_BYTES,
    ),
    Flag(
        "max_json_bytes",
        "--max-json-bytes",
        "largest JSON answer read (default 16 MiB)",
        int,
        metavar=_BYTES,
    ),
    Flag(
        "max_binary_bytes",
        "--max-binary-bytes",
        "largest image, audio or video answer (default 64 MiB)",
        int,
        metavar=_BYTES,
    ),
    Flag(
        "provider",
        "--provider",
        "auto, hf-inference, fal-ai, replicate, ... (default: auto with a token; hf-inference:"
        " no Hub lookup)",
        metavar="NAME",
    ),
    Flag(
        "providers",
        "--task-provider",
        "the provider of one task (repeatable)",
        _pair,
        dict,
        metavar="TASK=PROVIDER",
        repeat=True,
    ),
    Flag(
        "router_url",
        "--router-url",
        "the Inference Providers router (default https://router.huggingface.co)",
        metavar="URL",
    ),
    Flag(
        "hub_url",
        "--hub-url",
        "the Hub, for model lookups (default: HF_ENDPOINT or https://huggingface.co)",
        metavar="URL",
    ),
    Flag("bill_to", "--bill-to", "sent as X-HF-Bill-To (an organization pays)", metavar="ORG"),
    Flag(
        "provider_order",
        "--provider-order",
        "for --provider auto: the providers to consider, best first (only these)",
        to_setting=task_ids,
        metavar="P1,P2",
    ),
)


FLAGS: tuple[Flag, ...] = _ROWS
"""Every setting's flag, in the order of :meth:`Settings.create` (a test holds the two equal).

Stated, not derived from the signature at import: reading it would import the settings, and
with them pydantic and every task, before ``--help`` could print.
"""

CHAT_FLAGS: tuple[Flag, ...] = (
    Flag(
        None,
        "--chat-base-url",
        "an OpenAI-compatible /v1 base for the chat model (default: the Hugging Face router)",
        metavar="URL",
    ),
    Flag(
        None,
        "--api-key-env",
        "environment variable holding the chat server's key (default: the HF token)",
        metavar="VAR",
    ),
)
"""The chat model's own flags (the agent, the assistant, the chatbot server)."""

TASKS = Flag(
    None, "--tasks", "comma-separated task ids to offer (default: all these settings serve)"
)
"""Which tools an agent is offered (``task_ids`` reads it)."""


class Repeat(argparse.Action):
    """A repeatable flag whose command-line values replace its variable's (flags win)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Add one value; the first given replaces the variable's list."""
        items = getattr(namespace, self.dest)
        setattr(namespace, self.dest, [*([] if items is self.default else items), values])


def _env_default(parser: argparse.ArgumentParser, flag: Flag) -> Any:
    """The flag's value from its variable (None when unset); a bad value is a usage error."""
    raw = os.environ.get(flag.env)
    if raw is None:
        return [] if flag.repeat else None
    try:
        if flag.switch or flag.either:
            return _boolean(raw)
        if flag.repeat:
            return [flag.convert(v.strip()) for v in raw.split(",") if v.strip()]
        return flag.convert(raw)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        parser.error(f"{flag.env}={raw!r}: {exc}")


def add_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flags: Iterable[Flag],
    *,
    errors: argparse.ArgumentParser | None = None,
    helps: Mapping[str, str] | None = None,
) -> None:
    """Add ``flags`` to ``parser``, each defaulting to its environment variable.

    ``helps`` rewords a flag's help for one command (by flag), e.g. what ``--allow-files``
    means there.
    """
    reporter = errors if errors is not None else parser
    assert isinstance(reporter, argparse.ArgumentParser)
    for flag in flags:
        default = _env_default(reporter, flag)
        text = f"{(helps or {}).get(flag.flag, flag.help)} (env {flag.env})"
        if flag.switch:
            parser.add_argument(flag.flag, action="store_true", default=bool(default), help=text)
        elif flag.either:
            parser.add_argument(
                flag.flag, action=argparse.BooleanOptionalAction, default=default, help=text
            )
        elif flag.repeat:
            parser.add_argument(
                flag.flag,
                action=Repeat,
                type=flag.convert,
                default=default,
                metavar=flag.metavar,
                help=text,
            )
        else:
            parser.add_argument(
                flag.flag, type=flag.convert, default=default, metavar=flag.metavar, help=text
            )


def add_settings_flags(
    parser: argparse.ArgumentParser,
    *,
    only: Sequence[str] | None = None,
    skip: Sequence[str] = (),
    helps: Mapping[str, str] | None = None,
) -> None:
    """The settings' flags (all, or the settings named in ``only``), in their own group."""
    group = parser.add_argument_group(
        "settings", "each also from its environment variable; a flag given wins"
    )
    rows = [f for f in FLAGS if (only is None or f.setting in only) and f.setting not in skip]
    add_flags(group, rows, errors=parser, helps=helps)


def settings_from(ns: argparse.Namespace, *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The :meth:`Settings.create` arguments the parsed flags state (those unset left out).

    Only the flags ``ns`` has (a command may add a subset); ``allowed_roots`` is left to the
    command, whose rule for local files it is (:func:`chosen_roots`, :func:`typed_roots`).
    """
    out: dict[str, Any] = {}
    for flag in FLAGS:
        if flag.setting is None or flag.setting in skip or flag.setting == "allowed_roots":
            continue
        value = getattr(ns, flag.dest, None)
        if value is None or value == [] or (flag.switch and not value):
            continue
        if flag.setting == "api_key":
            # The file's token stands in for HF_TOKEN for this run, with its rule: it goes to
            # Hugging Face hosts only (an api_key argument would go to any --base-url too),
            # and the chat model finds it where it finds HF_TOKEN.
            os.environ["HF_TOKEN"] = flag.to_setting(value).get_secret_value()
            continue
        out[flag.setting] = flag.to_setting(value)
    return out


ALLOW_FILES_HINT = "outside the allowed folders (add --allow-files DIR)"


def chosen_roots(ns: argparse.Namespace) -> list[Path]:
    """Where a model's choice of files may read: the working directory and ``--allow-files``.

    For the agent and the assistant: the LLM picks the paths, so only folders the person
    named (or is working in) are open to it.
    """
    cwd = Path.cwd()
    # At "/" the working directory would be every file: as the library's default, not then.
    here = [] if cwd == Path(cwd.anchor) else [cwd]
    return [*here, *(getattr(ns, "allow_files", None) or [])]


CHOSEN_ROOTS_HELPS = {
    "--allow-files": "let the tools read local media from DIR too, besides the working"
    " directory (repeatable; the model picks the paths)",
}
"""``helps`` for :func:`add_settings_flags` where the roots are :func:`chosen_roots`."""


def typed_roots(ns: argparse.Namespace, args: Mapping[str, Any]) -> list[Path]:
    """:func:`chosen_roots` plus each existing file the person typed in ``args`` (``call``).

    The person typed those arguments, so the files they name are theirs to send, wherever
    they are (``~/Pictures/cat.png``): each file itself is allowed, not its folder.
    """
    named: list[Path] = []
    for value in _strings(args):
        if "\n" in value or len(value) > 4096:
            continue  # text, not a path
        try:
            path = Path(value).expanduser()
            if path.is_file():
                named.append(path.resolve())
        except (OSError, RuntimeError, ValueError):
            continue
    return [*chosen_roots(ns), *named]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def add_provider_flags(parser: argparse.ArgumentParser) -> None:
    """``--provider``, ``--provider-order`` and ``--bill-to``: who serves the tools, who pays."""
    add_settings_flags(parser, only=("provider", "provider_order", "bill_to"))


def provider_settings(ns: argparse.Namespace) -> dict[str, Any]:
    """The toolkit arguments of the settings flags ``ns`` has (e.g. :func:`add_provider_flags`)."""
    return settings_from(ns)


def add_chat_flags(parser: argparse.ArgumentParser) -> None:
    """``--chat-base-url`` and ``--api-key-env``: where the chat model is, with which key."""
    add_flags(parser, CHAT_FLAGS)


def chat_key(api_key_env: str | None) -> str | None:
    """The chat server's key named by ``--api-key-env`` (None without the flag).

    Raises:
        ValueError: the variable is not set; the message is the usage error to print.
    """
    if not api_key_env:
        return None
    key = os.environ.get(api_key_env)
    if not key:
        msg = f"--api-key-env {api_key_env}: that variable is not set"
        raise ValueError(msg)
    return key
