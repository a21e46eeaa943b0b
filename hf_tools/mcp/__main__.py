"""``python -m hf_tools.mcp``: the same as ``hf-tools mcp``."""

import sys

from hf_tools.mcp.cli import main

sys.exit(main())
