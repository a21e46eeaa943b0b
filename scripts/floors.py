"""Print `name==floor` for each runtime dependency of pyproject.toml (for `make test-lowest`)."""

import re
import tomllib
from pathlib import Path

project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
for requirement in project["dependencies"]:
    match = re.match(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)", requirement)
    if match is None:
        msg = f"no lower bound in {requirement!r}"
        raise SystemExit(msg)
    print(f"{match[1]}=={match[2]}")
