"""Publish executed notebooks as a self-contained static site.

Layout::

    outputs/site/index.html                 language choice
    outputs/site/<lang>/index.html          notebooks, both variants
    outputs/site/<lang>/<nb>.html           without code (Kuntaliitto's site)
    outputs/site/<lang>/code/<nb>.html      with code

Pages load nothing from other hosts: the template drops require.js, MathJax,
Mermaid and widget scripts, and images are embedded.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

from kuntalib import paths
from kuntalib.i18n import LANGS, Msg, text

if TYPE_CHECKING:
    from kuntalib.deck import DeckFile

__all__ = ["notebook_title", "export_page", "write_indexes", "publish"]

LANG_NAMES = Msg("site.lang_name")


def notebook_title(nb_path: Path) -> str:
    """The notebook's title: the first heading of its prose (an executed notebook's is in its run's language), else its stem."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown" and "source-only" not in cell.get("metadata", {}).get("tags", []):  # a source file's note
            src = "".join(cell.get("source", []))
            for line in src.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return nb_path.stem


def _nav(stem: str, lang: str, with_code: bool, available: set[str]) -> str:
    up = "../" if with_code else ""
    here = "code/" if with_code else ""
    parts = [f'<a href="{up}index.html">{text("site.index", lang)}</a>']
    for other in LANGS:
        if other == lang:
            parts.append(f'<span class="current" aria-current="page">{LANG_NAMES[other]}</span>')
        elif other in available:
            parts.append(f'<a href="{up}../{other}/{here}{stem}.html" hreflang="{other}" lang="{other}">{LANG_NAMES[other]}</a>')
    if with_code:
        parts.append(f'<a href="../{stem}.html">{text("site.nocode", lang)}</a>')
    else:
        parts.append(f'<a href="code/{stem}.html">{text("site.code", lang)}</a>')
    return '<nav class="kuntalib">' + " ".join(parts) + "</nav>"


def export_page(nb_path: Path, out: Path, *, lang: str, with_code: bool, available: set[str]) -> Path:
    """Convert one executed notebook to HTML with kuntalib's template."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="kuntalib",
        extra_template_basedirs=[str(paths.package_dir() / "templates")],
        exclude_input=not with_code,
        exclude_input_prompt=not with_code,
        exclude_output_prompt=True,
        embed_images=True,
        language_code=lang,
    )
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata["title"] = notebook_title(nb_path)
    resources = {
        "kuntalib_nav": _nav(nb_path.stem, lang, with_code, available),
        "metadata": {"name": nb_path.stem},
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out


def _page(title: str, lang: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em}"
        "li{margin:.4em 0}a{text-decoration:underline}table{border-collapse:collapse}"
        "th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}</style>\n</head>\n<body>\n"
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _load_slides() -> DeckFile | None:
    """The deck's slide map (``data/raw/deck/slides.yml``), or None where the project has none."""
    from kuntalib.deck import load_deck_file

    path = paths.data_raw() / "deck" / "slides.yml"
    return load_deck_file(path) if path.exists() else None


def _slides_html(deck: DeckFile | None, lang: str, pages: set[str]) -> str:
    """The deck's slides and where each is rebuilt, as an HTML section in ``lang``; "" without a slide map."""
    from kuntalib.i18n import pick

    if deck is None:
        return ""
    rows = []
    for s in deck["slides"]:
        label = html.escape(pick(s["label"], lang))
        quote = html.escape(" ".join(s["quote"].split()))
        if s.get("page"):
            stem = s["page"]
            executed = paths.executed_dir(lang) / f"{stem}.ipynb"
            title = html.escape(notebook_title(executed) if executed.exists() else stem)
            where = f'<a href="{stem}.html">{title}</a>' if stem in pages else title
        else:
            where = html.escape(text("site.not_rebuilt", lang)) + ": " + html.escape(pick(s["not_rebuilt"], lang))
        rows.append(f'<tr><td>{label}<br><small lang="fi">”{quote}”</small></td><td>{where}</td></tr>')
    checked = text(deck.quotes_note, lang)
    return (f"<h2>{html.escape(pick(deck['title'], lang))}</h2>\n<p>{html.escape(checked)}</p>\n"
            f'<table><thead><tr><th scope="col">{html.escape(text("site.slide", lang))}</th>'
            f'<th scope="col">{html.escape(text("site.rebuilt_in", lang))}</th></tr></thead>\n<tbody>'
            + "\n".join(rows) + "</tbody></table>")


def write_indexes(failed: set[str] | frozenset[str] = frozenset()) -> list[Path]:
    """(Re)write the top index and one index per language from what is on disk.

    ``failed`` names the ``<stem>/<lang>`` runs that failed in this build: their entry keeps the
    link to the last good page and says that this build's run failed (or that there is no page yet).
    """
    site = paths.site_dir()
    written: list[Path] = []
    langs = sorted({run.partition("/")[2] for run in failed} | {lang for lang in LANGS if paths.executed_dir(lang).exists()},
                   key=LANGS.index)
    slides = _load_slides()  # read (and its quotes checked) once for every language's index
    for lang in langs:
        items = []
        executed = {nb.stem: nb for nb in paths.executed_dir(lang).glob("*.ipynb")} if paths.executed_dir(lang).exists() else {}
        stems = sorted(set(executed) | {run.partition("/")[0] for run in failed if run.endswith(f"/{lang}")})
        for stem in stems:
            has_page = stem in executed and (site / lang / f"{stem}.html").exists()
            title = html.escape(notebook_title(executed[stem]) if stem in executed else stem)
            if has_page:
                item = f'<a href="{stem}.html">{title}</a> (<a href="code/{stem}.html">{text("site.code", lang)}</a>)'
            else:
                item = title
            if f"{stem}/{lang}" in failed:
                items.append(f'<li class="failed">{item} – <strong>{text("site.failed" if has_page else "site.never", lang)}</strong></li>')
            elif has_page:
                items.append(f"<li>{item}</li>")
        switch = " ".join(
            f'<a href="../{o}/index.html" hreflang="{o}" lang="{o}">{LANG_NAMES[o]}</a>' for o in langs if o != lang
        )
        body = (
            f'<nav><a href="../index.html">kuntalib</a> · {switch}</nav>\n'
            f"<h1>{text('site.title', lang)}</h1>\n<ul>\n" + "\n".join(items) + "\n</ul>\n"
            + _slides_html(slides, lang, {stem for stem in stems if (site / lang / f"{stem}.html").exists()})
        )
        path = site / lang / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_page(text("site.title", lang), lang, body), encoding="utf-8")
        written.append(path)
    links = "\n".join(
        f'<li lang="{lang}"><a href="{lang}/index.html" hreflang="{lang}">{text("site.title", lang)} ({LANG_NAMES[lang]})</a></li>'
        for lang in langs
    )
    top = site / "index.html"
    top.parent.mkdir(parents=True, exist_ok=True)
    top.write_text(_page("kuntalib", "fi", f"<h1>kuntalib</h1>\n<ul>\n{links}\n</ul>"), encoding="utf-8")
    written.append(top)
    return written


def publish(run_ids: list[str] | None = None, failed: set[str] | frozenset[str] = frozenset()) -> list[Path]:
    """Export pages for the given ``<stem>/<lang>`` runs (all when None, or missing pages).

    Pages of runs in ``failed`` are left as they are (the last good version) and marked on the index.
    """
    site = paths.site_dir()
    written: list[Path] = []
    available: dict[str, set[str]] = {}
    for lang in LANGS:
        for nb in paths.executed_dir(lang).glob("*.ipynb") if paths.executed_dir(lang).exists() else []:
            available.setdefault(nb.stem, set()).add(lang)
    for stem, langs in sorted(available.items()):
        for lang in sorted(langs):
            nb = paths.executed_dir(lang) / f"{stem}.ipynb"
            targets = {False: site / lang / f"{stem}.html", True: site / lang / "code" / f"{stem}.html"}
            stale = run_ids is None or f"{stem}/{lang}" in run_ids
            for with_code, out in targets.items():
                if stale or not out.exists():
                    written.append(export_page(nb, out, lang=lang, with_code=with_code, available=langs))
    written += write_indexes(failed)
    return written
