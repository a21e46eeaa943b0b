"""The terminal assistant from the checkout: ``python -m agents.assistant``.

It is installed with the package (``hf_tools.assistant``); this module only names it here.
"""

from __future__ import annotations

import sys

from hf_tools.assistant import DEFAULT_MODEL, HELP, SYSTEM_PROMPT, build_agent, chat, main

__all__ = ["DEFAULT_MODEL", "HELP", "SYSTEM_PROMPT", "build_agent", "chat", "main"]

if __name__ == "__main__":
    sys.exit(main())
