"""docs/architecture.md matches the tree, and every package says which layer it is.

The tree block (the first fenced block of docs/architecture.md) lists one entry per line,
two spaces of indentation per level: a folder ends with ``/``, a module with ``.py``
(several modules may share a line, separated by ``, ``); anything after two spaces is its
description, and lines whose first word is neither (wrapped descriptions) are skipped.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "waltero_frames"
ENTRY = re.compile(r"^(?P<names>[\w.\-]+(?:/|\.py)(?:, [\w.\-]+(?:/|\.py))*)(?:\s{2,}.*)?$")


def tree_paths(text: str) -> list[str]:
    """The folder and module paths of the first fenced block of ``text``."""
    block = re.search(r"^```\n(.*?)^```", text, re.S | re.M)
    assert block, "docs/architecture.md has no tree block"
    stack: list[str] = []
    paths = []
    for line in block.group(1).splitlines():
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        match = ENTRY.match(body)
        if not match or indent % 2:
            continue
        depth = indent // 2
        assert depth <= len(stack), f"entry deeper than its folder: {line!r}"
        del stack[depth:]
        for name in match.group("names").split(", "):
            paths.append("".join(stack) + name)
        if body.split()[0].endswith("/"):
            stack.append(body.split()[0])
    return paths


def test_the_parser_reads_nesting_shared_lines_and_skips_wrapped_descriptions():
    text = (
        "```\npkg/\n  a.py             one\n                   wrapped.py words\n"
        "  sub/             two\n    b.py, c.py     three\n  d.py\ntools/\n  e.py\n```\n"
    )
    assert tree_paths(text) == [
        "pkg/",
        "pkg/a.py",
        "pkg/sub/",
        "pkg/sub/b.py",
        "pkg/sub/c.py",
        "pkg/d.py",
        "tools/",
        "tools/e.py",
    ]


def test_architecture_tree_names_every_module_and_only_existing_paths():
    listed = tree_paths((ROOT / "docs" / "architecture.md").read_text())
    modules = sorted(
        str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts
    )
    missing = [m for m in modules if m not in listed]
    assert not missing, f"docs/architecture.md does not name these modules: {missing}"
    stale = [p for p in listed if not (ROOT / p).exists()]
    assert not stale, f"docs/architecture.md names paths that do not exist: {stale}"
    assert len(listed) == len(set(listed)), "a path is listed twice"


PACKAGES = sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)


@pytest.mark.parametrize("package", PACKAGES, ids=[str(p.relative_to(PACKAGE)) for p in PACKAGES])
def test_each_package_docstring_names_its_layer_and_what_it_may_import(package):
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    assert re.search(r"\blayer\b", doc, re.I), f"{package.name}/__init__.py names no layer"
    assert re.search(r"\bimport", doc, re.I), f"{package.name}/__init__.py says nothing of imports"


def test_no_reference_to_documents_outside_the_repository():
    """Docs, code comments and docstrings point into the repository (docs/), never to the
    team's shared folder beside it."""
    import subprocess

    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    needles = ["../" + "shared", "/work/" + "shared"]
    hits = []
    for name in files:
        path = ROOT / name
        if (
            path.suffix not in {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ""}
            or not path.is_file()
        ):
            continue
        text = path.read_text(errors="replace")
        hits += [f"{name}: {n}" for n in needles if n in text]
    assert not hits, hits
