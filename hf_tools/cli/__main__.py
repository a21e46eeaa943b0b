"""``python -m hf_tools.cli``: the same as ``hf-tools``."""

import sys

from hf_tools.cli.entry import main

sys.exit(main())
