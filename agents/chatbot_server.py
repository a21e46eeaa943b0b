"""The chatbot server, from the checkout: ``python -m agents.chatbot_server`` = ``hf-tools serve``.

The server is installed with the package (``hf_tools.serve``, the ``server`` extra); this
module only names its agent, its app and its entry point for scripts that import them here.
"""

from __future__ import annotations

import sys

from hf_tools.serve.agent import build_server_agent, system_prompt
from hf_tools.serve.app import create_app
from hf_tools.serve.command import main

__all__ = ["build_server_agent", "create_app", "main", "system_prompt"]

if __name__ == "__main__":
    sys.exit(main())
