"""The README stays short and every page and link it leads to is there (#33).

The README is read in five minutes; the reference moved to ``docs/``, one page per topic. These
tests fail when the README grows past 150 lines, when it links a ``docs/`` page that does not
exist or leaves one unlinked, when a relative link or its ``#anchor`` in the README, CONTRIBUTING.md
or a ``docs/`` page leads nowhere, when the documentation image is missing or large, and when a
command of the three doors names a make target or a ``kuntalib`` subcommand that does not exist.
"""

from __future__ import annotations

import re

import pytest

from kuntalib import cli
from tests.conftest import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, REPO / "CONTRIBUTING.md", *DOCS]

#: The longest the README may be, in lines ("read in five minutes").
README_LINES = 150
#: The largest the README's committed image may be, in bytes.
IMAGE_BYTES = 150 * 1024

_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """``text`` without its fenced code blocks (where ``#`` starts a comment, not a heading)."""
    return _FENCE.sub("", text)


def links(text: str) -> list[str]:
    """The targets of the Markdown links and images of ``text``, code left out."""
    return _LINK.findall(_CODE_SPAN.sub("", prose(text)))


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of ``text``: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", prose(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I)


def test_the_checks_see_what_they_look_for():
    text = "# A `b`, c — d\n## A `b`, c — d\n```\n# not a heading [x](nowhere.md)\n```\n[y](p.md#a-b-c--d) `[z](q.md)` ![i](img/x.png)\n"
    assert anchors(text) == {"a-b-c--d", "a-b-c--d-1"}
    assert links(text) == ["p.md#a-b-c--d", "img/x.png"]
    assert not _relative("https://docs.astral.sh/uv/") and _relative("docs/notebooks.md#parameters")


def test_readme_is_read_in_five_minutes():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_LINES, f"README.md has {len(lines)} lines; move reference to docs/ (at most {README_LINES})"


def test_every_docs_page_linked_from_the_readme_exists_and_every_page_is_linked():
    linked = {t.split("#")[0] for t in links(README.read_text(encoding="utf-8")) if t.startswith("docs/")}
    pages = {t for t in linked if t.endswith(".md")}
    assert pages, "the README links no docs/ page"
    assert [t for t in sorted(linked) if not (REPO / t).is_file()] == []
    assert {p.relative_to(REPO).as_posix() for p in DOCS} <= pages, "a docs/ page the README does not link"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in links(text):
        if not _relative(target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert broken == [], f"{page.name}: " + "; ".join(broken)


def test_the_readme_shows_one_small_committed_image_made_by_the_build():
    images = [t for t in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", README.read_text(encoding="utf-8")) if _relative(t)]
    assert len(images) == 1, images
    image = REPO / images[0]
    assert image.parent == REPO / "docs" / "img" and image.suffix == ".png"
    data = image.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) <= IMAGE_BYTES, f"{image.name}: {len(data)} bytes"


def test_every_door_command_in_the_readme_exists():
    text = README.read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z-]+):", (REPO / "Makefile").read_text(encoding="utf-8"), flags=re.M))
    named = set(re.findall(r"`make ([a-z-]+)", text))
    assert {"build", "test", "lab", "serve", "verify"} <= named
    assert named <= targets, f"make targets the README names but the Makefile lacks: {sorted(named - targets)}"
    commands = set(re.findall(r"kuntalib (lab|serve|verify|build|params|prose|source|kernel)\b", text))
    assert {"lab", "serve", "verify", "build"} <= commands
    for command in sorted(commands):
        with pytest.raises(SystemExit) as done:
            cli.main([command, "--help"])
        assert done.value.code == 0, command
    assert "papermill notebooks/04_strategy_followup.ipynb out.ipynb -p lang sv" in text
