"""docs/layout.md (the README's layout page) lists every module under pbrl/ once, and nothing that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def layout_paths() -> list[str]:
    readme = (REPO / "docs" / "layout.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def test_every_module_is_listed_once():
    listed = [p for p in layout_paths() if p.startswith("pbrl/")]
    assert len(listed) == len(set(listed)), "a module is listed twice"
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "pbrl").rglob("*.py")}
    assert sorted(set(listed)) == sorted(modules), (
        f"missing from docs/layout.md: {sorted(modules - set(listed))}; listed but absent: {sorted(set(listed) - modules)}")


def test_listed_folders_exist():
    folders = [p for p in layout_paths() if p.endswith("/")]
    assert folders and all((REPO / p).is_dir() for p in folders), folders
