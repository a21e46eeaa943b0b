"""Rewrite the generated tables (tools, providers) wherever the docs hold them.

Run after adding a task or changing who serves one: ``.venv/bin/python scripts/write_tables.py``.
A test regenerates both tables and fails when a page is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hf_tools.catalog import provider_table, tools_table

ROOT = Path(__file__).resolve().parents[1]


def pages() -> list[Path]:
    """README.md and every page of docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def rewrite(text: str, table: str) -> str:
    """``text`` with the table that starts with ``table``'s header line replaced by it."""
    header = table.splitlines()[0]
    lines = text.split("\n")
    if header not in lines:
        return text
    start = lines.index(header)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join([*lines[:start], *table.rstrip("\n").split("\n"), *lines[end:]])


def main() -> int:
    """Rewrite every page that holds a generated table; print the pages changed."""
    for page in (p for p in pages() if p.is_file()):
        text = page.read_text(encoding="utf-8")
        new = rewrite(rewrite(text, tools_table()), provider_table())
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"rewrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
