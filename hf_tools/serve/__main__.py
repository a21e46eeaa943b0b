"""``python -m hf_tools.serve``: the same as ``hf-tools serve``."""

import sys

from hf_tools.serve.command import main

sys.exit(main())
