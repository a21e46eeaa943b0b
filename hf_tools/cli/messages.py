"""Messages for a person at a terminal, in one place.

The library words its errors for a Python caller ("pass api_key=...") and its tool results for
an LLM ("Do not retry it; use another tool"). What the commands print goes through
:func:`for_person`, which swaps those phrases for what a person does: a flag to add, a
variable to set.
"""

from __future__ import annotations

import re
from functools import cache

from hf_tools.cli.flags import ALLOW_FILES_HINT

__all__ = ["error_text", "for_person"]

# Each error class's advice to the LLM (its ``hint``), as a person at the terminal acts on it.
_CLI_HINTS: dict[str, str] = {
    "InputError": "Fix the arguments and run it again.",
    "MediaError": (
        "Give a public URL, base64 text, or a file inside the allowed folders"
        " (add --allow-files DIR)."
    ),
    "InvalidInputError": "Change the arguments (shorter text, valid values) and run it again.",
    "RateLimitError": "The service is rate limited: wait a minute and run it again.",
    "ModelLoadingError": "The model is starting up: run it again in a minute.",
    "ServerError": "The service failed: run it again later, or try another --provider.",
    "HFTimeoutError": (
        "It did not finish in time: give it more with --timeout SECONDS, or a smaller input."
    ),
    "HFConnectionError": "The service could not be reached: check the network and the URLs.",
    "ResponseFormatError": "The answer could not be read: run it again, or try another model.",
}

# Other phrases written for Python code or for an LLM.
_PHRASES: tuple[tuple[str, str], ...] = (
    (
        "(a server of your own, base_url=..., needs none)",
        "(a server of your own, --base-url or --chat-base-url, needs none)",
    ),
    (
        "Do not retry it; use another tool, or answer without it.",
        "Try another provider (--provider) or model (--task-model TASK=MODEL).",
    ),
    ("or it is outside the folders this tool may read", f"or it is {ALLOW_FILES_HINT}"),
    ("Choose one of them, or", "Choose one of them with --provider NAME, or"),
)
# A setting named as Python spells it, as the flag spells it.
_MODELS_KEY = re.compile(r"in models\['([^']+)'\]")


@cache
def _replacements() -> tuple[tuple[str, str], ...]:
    import hf_tools.errors as errors
    from hf_tools.config import NO_TOKEN_ADVICE

    pairs = [
        (NO_TOKEN_ADVICE, "export HF_TOKEN=hf_..., run `hf auth login`, or pass --token-file FILE")
    ]
    for name, text in _CLI_HINTS.items():
        hint = getattr(errors, name).hint
        if hint:
            pairs.append((hint, text))
    # Longer first: one hint may start another.
    return tuple(sorted(pairs, key=lambda p: -len(p[0]))) + _PHRASES


# A phrase cut short at the end of a preview (an agent's event shows the first 200 chars) is
# still recognised from this many characters on.
_MIN_CUT = 16


def _replace_cut(text: str, old: str, new: str) -> str:
    """``text`` with a tail that is the start of ``old`` replaced by ``new``."""
    start = text.rfind(old[:_MIN_CUT])
    if start < 0 or not old.startswith(text[start:].removesuffix("…")):
        return text
    return text[:start] + new


def for_person(text: str) -> str:
    """``text`` with its Python- and LLM-facing advice reworded for the command line."""
    for old, new in _replacements():
        text = text.replace(old, new) if old in text else _replace_cut(text, old, new)
    return _MODELS_KEY.sub(r"with --task-model \1=MODEL", text)


def error_text(exc: BaseException) -> str:
    """What to print for ``exc``: its message (a KeyError's without quotes), for a person."""
    if isinstance(exc, KeyError) and exc.args:
        return for_person(str(exc.args[0]))
    return for_person(str(exc))
