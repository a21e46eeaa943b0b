"""The metadata, the tool targets, the lock and the README agree on versions."""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _floor(name: str) -> str:
    for requirement in PYPROJECT["project"]["dependencies"]:
        match = re.match(rf"{re.escape(name)}>=([0-9.]+),<", requirement)
        if match:
            return match[1]
    raise AssertionError(f"{name} has no range in pyproject.toml")


def test_python_floor_is_the_same_everywhere() -> None:
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"  # httpx2 needs 3.11
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py311"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == "3.11"
    classifiers = PYPROJECT["project"]["classifiers"]
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert not any("3.10" in c for c in classifiers)
    assert sys.version_info >= (3, 11)


def test_readme_states_the_floors_pyproject_declares() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("langchain-core", "pydantic", "httpx2"):
        assert f"`{name}>={_floor(name)},<" in readme, name
    assert "3.10" not in readme


def test_lock_pins_what_the_ranges_allow() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert lock["requires-python"] == ">=3.11"
    versions = {p["name"]: p["version"] for p in lock["package"]}
    for name in ("langchain-core", "pydantic", "httpx2"):
        locked = tuple(int(x) for x in versions[name].split(".")[:3])
        floor = tuple(int(x) for x in _floor(name).split("."))
        assert locked >= floor, (name, versions[name])
    # Development tools are locked too, so a new mypy or ruff cannot turn CI red.
    assert {"mypy", "ruff", "pytest", "langchain-tests"} <= versions.keys()
