"""Publish executed notebooks as a self-contained static site.

Layout::

    outputs/site/index.html                      language choice
    outputs/site/jupyterlab.css                  JupyterLab's page style, one file for every page (the rules they use)
    outputs/site/<lang>/index.html               notebooks, both variants
    outputs/site/<lang>/<nb>.html                without code (Kuntaliitto's site)
    outputs/site/<lang>/code/<nb>.html           with code
    outputs/site/<lang>/img/<nb>/<figure>.png    the page's figures, the PNG the notebook showed
    outputs/site/<lang>/data/<nb>/<table>.csv    the notebook's tables in <lang>, and its workbook <nb>.xlsx

A page shows each figure as a numbered ``<figure>`` ("Kuva 1.") with its title and caption
(sources included) under it and short alt text (:func:`kuntalib.present.figure_description`),
ends with links to its tables, and links to the previous and next notebook of its language.
Pages load nothing from other hosts: the template drops require.js, MathJax, Mermaid and
widget scripts, and every link is relative.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import os
import re
import shutil
import struct
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kuntalib import paths
from kuntalib.i18n import LANGS, Msg, text
from kuntalib.pipeline.css import used_css

if TYPE_CHECKING:
    from kuntalib.deck import DeckFile

__all__ = ["notebook_title", "export_pages", "write_indexes", "publish"]

#: The shared style sheet, relative to the site's root.
STYLESHEET = "jupyterlab.css"

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


def _figures(nb: Any, folder: Path) -> list[tuple[Any, Path, tuple[int, int]]]:
    """Write every PNG image of the notebook's outputs to ``folder``, in page order; return (output, file, size) triples.

    The size is the one the page shows the image at, in CSS pixels: the notebook's display width,
    for the part of the image the site keeps (:func:`_web_png`).

    A figure shown by :func:`kuntalib.present.figure` keeps its name (``<name>.png``), any other
    image is ``figure-<n>.png``.
    """
    shutil.rmtree(folder, ignore_errors=True)
    images: list[tuple[Any, dict[str, Any], Path, bytes]] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}):
                n = len(images) + 1
                meta = out.get("metadata", {}).get("image/png", {})
                name = meta.get("kuntalib", {}).get("name") or f"figure-{n}"
                path = folder / f"{name}.png"
                if any(path == p for _, _, p, _ in images):
                    path = folder / f"{name}-{n}.png"
                images.append((out, meta, path, base64.b64decode(out["data"]["image/png"])))
    # Pillow lets go of Python's lock while it reduces the colours: threads use every core, each image its own bytes
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        webs = list(pool.map(lambda image: _web_png(image[3], image[1].get("kuntalib", {}).get("picture")), images))
    found: list[tuple[Any, Path, tuple[int, int]]] = []
    for (out, meta, path, raw), data in zip(images, webs, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        (full, _), (width, height) = struct.unpack(">II", raw[16:24]), struct.unpack(">II", data[16:24])
        shown = round(int(meta.get("width") or full) * width / full)
        found.append((out, path, (shown, round(height * shown / width))))
    return found


def _web_png(data: bytes, box: Sequence[int] | None = None) -> bytes:
    """The chart's PNG for the web: cut to ``box`` (left, top, right, bottom pixels; the picture without
    the caption lines the page gives as text, :func:`kuntalib.present.picture_box`), in at most 256 colours
    (Pillow's median cut, no dithering): charts are flat colours and text, so the picture looks the same
    at about a third of the bytes. Deterministic: the same input, the same bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        out = io.BytesIO()
        picture = im.convert("RGB").crop(tuple(box)) if box else im.convert("RGB")
        picture.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, "PNG", optimize=True)
    return out.getvalue()


def _figure_html(n: int, src: str, size: tuple[int, int], meta: dict[str, Any], lang: str) -> str:
    """An image as ``<figure>``: the image with its alt text, then "Kuva n." with its title and caption."""
    info, (width, height) = meta.get("kuntalib", {}), size
    lines = "<br>".join(html.escape(line) for line in info.get("caption", "").splitlines())
    caption = f'<span class="kl-caption">{lines}</span>' if lines else ""
    return (f'<figure class="kl-figure"><img src="{src}" alt="{html.escape(meta.get("alt", ""))}" width="{width}" '
            f'height="{height}"><figcaption><span class="kl-fignum">'
            f'{html.escape(text("site.figure", lang, n=n))}</span> {html.escape(info.get("title", ""))}{caption}'
            "</figcaption></figure>")


def _tables(stem: str, lang: str, folder: Path) -> list[Path]:
    """Copy the notebook's tables of ``lang`` (CSV files, then its workbook) to ``folder``; return the copies."""
    shutil.rmtree(folder, ignore_errors=True)
    src = paths.tables_dir(stem, lang)
    files = sorted(src.glob("*.csv")) + sorted(src.glob("*.xlsx")) if src.is_dir() else []
    if files:
        folder.mkdir(parents=True)
    return [Path(shutil.copyfile(f, folder / f.name)) for f in files]


def _downloads(files: Sequence[Path], prefix: str, lang: str) -> str:
    """The "Lataa taulukot" section: the workbook, then the CSV files, each linked at ``prefix + name``."""
    def link(f: Path) -> str:
        return f'<a href="{prefix}{f.name}" download>{html.escape(f.name)}</a>'

    items = [f"<li>{link(f)} – {html.escape(text('site.workbook', lang))}</li>" for f in files if f.suffix == ".xlsx"]
    csvs = [link(f) for f in files if f.suffix == ".csv"]
    if csvs:
        items.append(f"<li>{html.escape(text('site.csv', lang))}: {', '.join(csvs)}</li>")
    return ('<section class="kl-downloads" aria-labelledby="kl-downloads">'
            f'<h2 id="kl-downloads">{html.escape(text("site.downloads", lang))}</h2>\n<ul>\n' + "\n".join(items) + "\n</ul></section>"
            if items else "")


def _pager(stem: str, order: Sequence[str], titles: dict[str, str], lang: str, index: str) -> str:
    """Links to the previous and next notebook of the language (same variant) and to its index."""
    i = order.index(stem)
    parts = [f'<a href="{index}">{html.escape(text("site.index", lang))}</a>']
    if i > 0:
        parts.insert(0, f'<a href="{order[i - 1]}.html" rel="prev"><span aria-hidden="true">← </span>'
                        f'{html.escape(text("site.previous", lang))}: {html.escape(titles[order[i - 1]])}</a>')
    if i + 1 < len(order):
        parts.append(f'<a href="{order[i + 1]}.html" rel="next">{html.escape(text("site.next", lang))}: '
                     f'{html.escape(titles[order[i + 1]])}<span aria-hidden="true"> →</span></a>')
    return f'<nav class="kuntalib kl-pager" aria-label="{html.escape(text("site.pager", lang))}">' + " ".join(parts) + "</nav>"


def _stylesheet(path: Path, href: str) -> Callable[[str], str]:
    """For the template: takes the CSS nbconvert would inline (its ``<style>`` elements), keeps it in
    ``path`` and returns the ``<link>`` to it, so that every page shares one style sheet."""
    def link(block: str) -> str:
        css = "\n".join(re.findall(r"<style[^>]*>(.*?)</style>", str(block), re.S))
        if not path.exists() or path.read_text(encoding="utf-8") != css:
            path.write_text(css, encoding="utf-8")
        return f'<link rel="stylesheet" href="{href}">'
    return link


@functools.lru_cache(maxsize=8)
def _exporter(templates: str, with_code: bool, lang: str) -> Any:
    """nbconvert's HTML exporter with kuntalib's template, one per variant and language: made once, its Jinja
    templates are compiled once for every page it exports (each new exporter compiles them again)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="kuntalib", extra_template_basedirs=[templates], exclude_input=not with_code,
                        exclude_input_prompt=not with_code, exclude_output_prompt=True, embed_images=True,
                        language_code=lang)


def export_pages(nb_path: Path, *, lang: str, available: set[str], order: Sequence[str]) -> list[Path]:
    """Publish one executed notebook in ``lang``: its page without and with code, its figures and its tables.

    Parameters
    ----------
    nb_path
        The executed notebook (``outputs/notebooks/<lang>/<nb>.ipynb``).
    lang
        Its language.
    available
        The languages the notebook has pages in (the language switch).
    order
        The stems of the language's notebooks in order (previous and next links).

    Returns
    -------
    list of Path
        Every file written: both pages, the figures, the tables, the shared style sheet.
    """
    import nbformat

    site, stem = paths.site_dir(), nb_path.stem
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata["title"] = notebook_title(nb_path)
    titles = {s: notebook_title(p) if (p := paths.executed_dir(lang) / f"{s}.ipynb").exists() else s for s in order}
    figures = _figures(nb, site / lang / "img" / stem)
    tables = _tables(stem, lang, site / lang / "data" / stem)
    written = [p for _, p, _ in figures] + tables
    for with_code, up in ((False, ""), (True, "../")):
        for n, (out, png, size) in enumerate(figures, 1):
            meta = out.get("metadata", {}).get("image/png", {})
            out["data"] = nbformat.NotebookNode({"text/html": _figure_html(n, f"{up}img/{stem}/{png.name}", size, meta, lang)})
        exporter = _exporter(str(paths.package_dir() / "templates"), with_code, lang)
        resources = {
            "kuntalib_nav": _nav(stem, lang, with_code, available),
            "kuntalib_footer": _downloads(tables, f"{up}data/{stem}/", lang) + _pager(stem, order, titles, lang, f"{up}index.html"),
            "kuntalib_stylesheet": _stylesheet(site / STYLESHEET, f"{up}../{STYLESHEET}"),
            "metadata": {"name": stem},
        }
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        out_path = site / lang / ("code" if with_code else "") / f"{stem}.html"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(body, encoding="utf-8")
        written.append(out_path)
    return [*written, site / STYLESHEET]


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
    """Export pages for the given ``<stem>/<lang>`` runs (all when None, or missing pages); return the files written.

    A page is exported again when its run or the run of a neighbour in its language is in
    ``run_ids`` (its previous and next links carry their titles). Pages of runs in ``failed`` are
    left as they are (the last good version) and marked on the index.
    """
    site = paths.site_dir()
    written: list[Path] = []
    available: dict[str, set[str]] = {}
    for lang in LANGS:
        for nb in paths.executed_dir(lang).glob("*.ipynb") if paths.executed_dir(lang).exists() else []:
            available.setdefault(nb.stem, set()).add(lang)
    for lang in LANGS:
        order = sorted(stem for stem, langs in available.items() if lang in langs)
        for i, stem in enumerate(order):
            near = {f"{s}/{lang}" for s in order[max(i - 1, 0): i + 2]}
            pages = (site / lang / f"{stem}.html", site / lang / "code" / f"{stem}.html")
            if run_ids is None or near & set(run_ids) or not all(p.exists() for p in pages):
                written += export_pages(paths.executed_dir(lang) / f"{stem}.ipynb", lang=lang,
                                        available=available[stem], order=order)
    written += write_indexes(failed)
    sheet = site / STYLESHEET
    if sheet.exists():  # only the rules some page uses (JupyterLab's whole sheet is ~250 kB)
        pages = sorted(p for lang in LANGS for p in (site / lang).glob("**/*.html"))
        full = sheet.read_text(encoding="utf-8")
        css = used_css(full, (p.read_text(encoding="utf-8") for p in pages))
        if css != full:
            sheet.write_text(css, encoding="utf-8")
            written.append(sheet)
    return list(dict.fromkeys(written))
