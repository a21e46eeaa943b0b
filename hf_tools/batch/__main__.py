"""``python -m hf_tools.batch``: the ``hf-tools batch`` command."""

import sys

from hf_tools.batch.cli import main

sys.exit(main())
