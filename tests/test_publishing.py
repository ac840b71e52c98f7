"""Publishing: every page wholly in its language, accessible, with public sources; tables for readers and Excel."""

from __future__ import annotations

import io
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuntalib import paths, present
from kuntalib.i18n import LANGS, messages
from kuntalib.theme import add_caption
from tests.conftest import REPO
from tests.test_i18n import foreign_phrases

NBCONVERT_DEFAULT_ALT = "No description has been provided for this image"
VOID = {"img", "br", "meta", "link", "input", "hr", "col", "area", "base", "wbr", "source"}


class _Visible(HTMLParser):
    """Visible text and image alt texts of a page, leaving out elements marked as another language.

    An element with its own ``lang`` (a cited title in its original language, a link to the page in
    another language) is correctly marked for readers and screen readers, so it is not prose of the
    wrong language.
    """

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang, self.stack, self.out, self.alts = lang, [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            return
        other = ("lang" in a and a["lang"] != self.lang) or tag in ("style", "script")
        if tag == "img":
            if not any(self.stack) and not other:
                self.alts.append(a.get("alt"))
            return
        if tag not in VOID:
            self.stack.append(other)

    def handle_endtag(self, tag):
        if tag not in VOID and tag != "html" and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack):
            self.out.append(data)


def _titles() -> list[str]:
    """Titles of cited publications: kept in their own language wherever they are cited."""
    from kuntalib.sources import load_citations

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUNTALIB_ROOT", str(REPO))
        cits = load_citations()
    return sorted({t for c in cits.by_id.values() for t in c.title.values()}, key=len, reverse=True)


def page_text(html: str, lang: str) -> tuple[str, list[str | None]]:
    """The visible text (alt texts included) of a page in ``lang``, citation titles left out; and the alt texts."""
    v = _Visible(lang)
    v.feed(html)
    text = " ".join(" ".join(v.out + [a or "" for a in v.alts]).split())
    for title in _titles():
        text = text.replace(title, " ")
    return text, v.alts


# -- fast: the pieces ---------------------------------------------------------------------------------------------

def test_table_for_readers_is_localised_and_complete():
    df = pd.DataFrame({"vendor": ["a", "b"], "lines": [3028, 12], "share": [20.25, float("nan")], "passed": [True, False]})
    html = present.table_html(df.loc[[1, 0]], "fi")
    assert "<th scope=\"col\">toimittaja</th>" in html and "rivejä" in html
    assert "3\u00a0028" in html and "20,25" in html and "ei tietoa" in html and "kyllä" in html
    assert "NaN" not in html and "dtype" not in html and "…" not in html and ">1<" not in html  # no index column
    en = present.table_html(df, "en")
    assert "3,028" in en and "20.25" in en and "no data" in en
    with pytest.raises(KeyError, match="no sv header for column 'mystery'"):
        present.table_html(df.assign(mystery=1), "sv")
    coded = present.table_html(pd.DataFrame({"fault": ["late_arrival"], "resources": [5]}), "sv",
                               labels={"fault": "fhir.fault.{}"})
    assert "försenad sändning" in coded and "late_arrival" not in coded
    long = pd.DataFrame({"lines": range(500)})
    assert present.table_html(long, "fi").count("<tr>") == 501  # every row, no truncation


def test_figure_alt_is_its_title_and_caption():
    fig, ax = plt.subplots()
    ax.set_title("Hälytykset viikoittain", loc="left")
    add_caption(ax, ["Lähde: Kuntaliitto: Otsikko. Seminaariesitys 14.9.2022."])
    alt = present.figure_alt(ax)
    assert alt == "Hälytykset viikoittain. Lähde: Kuntaliitto: Otsikko. Seminaariesitys 14.9.2022."


@pytest.mark.parametrize(("lang", "kind"), [("fi", "Vaakapylväskuvio"), ("sv", "Liggande stapeldiagram"), ("en", "Horizontal bar chart")])
def test_alt_text_is_short_and_about_the_picture_and_the_caption_cites(lang, kind):
    url = "https://www.kuntaliitto.fi/tiedotteet/2022/kunta-alan-innovaatiobarometri-2022"
    fig, ax = plt.subplots()
    labels = [f"Vaihtoehto {i}" for i in range(40)]
    ax.barh(range(40), range(40, 80))
    ax.set_yticks(range(40), labels=labels)
    for y in range(40):
        ax.text(41 + y, y, f"{40 + y} %")
    ax.set_title("Mitkä tekijät motivoivat?", loc="left")
    add_caption(ax, ["Mitkä tekijät motivoivat? (% vastanneista)", "N = 178 · 2022", "Lähde: Kuntaliitto: Innovaatiobarometri. " + url])
    fig.savefig(io.BytesIO(), format="png")
    alt = present.figure_description(fig, lang)
    assert alt.startswith(f"{kind}: Mitkä tekijät motivoivat? (% vastanneista). Vaihtoehto 39: 79 %; Vaihtoehto 38: 78 %;")
    assert len(alt) <= present.ALT_LENGTH and alt.endswith("…") and "http" not in alt and "N = 178" not in alt
    assert re.search(r"Vaihtoehto \d+: \d+ %; …$", alt)  # whole items, then "…": nothing cut mid-phrase
    assert present.figure_text(fig) == ("Mitkä tekijät motivoivat? (% vastanneista)",
                                        "N = 178 · 2022\nLähde: Kuntaliitto: Innovaatiobarometri. " + url)
    assert present.figure_description(ax, lang, limit=1000).endswith("Vaihtoehto 0: 40 %.")


def test_a_caption_line_the_picture_wraps_is_whole_on_the_page():
    url = "https://www.kuntaliitto.fi/tiedotteet/2022/kunta-alan-innovaatiobarometri-2022-innovaatiotoiminnan-tuloksena"
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("Otsikko", loc="left")
    line = "Lähde: Kuntaliitto: Kunta-alan innovaatiobarometri 2022, jonka tulokset julkaistiin tiedotteessa " + url
    add_caption(ax, [line, "N = 178 · 2022"])
    drawn = fig.texts[-1].get_text()
    assert drawn.split("N = 178")[0].count("\n") >= 3 and "innovaatiobarometri-\n" not in drawn  # wrapped in the picture
    assert present.figure_text(fig) == ("Otsikko", f"{line}\nN = 178 · 2022")


def test_a_caption_starts_below_the_plot_however_low_its_axis_label_reaches(tmp_path, monkeypatch):
    import matplotlib as mpl

    from kuntalib.outputs import save_figure
    from kuntalib.theme import CAPTION_GAP, caption_layout, set_theme

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    with mpl.rc_context():
        set_theme()
        low, ax = plt.subplots(figsize=(4, 3))  # the axis label reaches below the figure's edge
        ax.set_xlabel("osuus vastanneista (%)")
        add_caption(ax, ["Lähde: Kuntaliitto", "N = 178"])
        _, rest, top = caption_layout(low)
        assert top > rest.y0  # drawn over the axis label
        save_figure(low, "low", notebook="n1", lang="fi")
        _, rest, top = caption_layout(low)
        assert top == pytest.approx(rest.y0 - CAPTION_GAP, abs=0.01)
        # the PNG is cut to the box save_figure measured once: the bytes savefig gives when it measures its tight box
        again = io.BytesIO()
        low.savefig(again, format="png", metadata={"Software": None}, bbox_inches="tight")
        assert (tmp_path / "out" / "figures" / "n1" / "fi" / "low.png").read_bytes() == again.getvalue()
        (dpi, kept), now = low.kuntalib_layout, caption_layout(low, 150)
        assert dpi == 150 and [kept[0].bounds, kept[1].bounds, kept[2]] == [now[0].bounds, now[1].bounds, now[2]]
        clear, ax = plt.subplots()
        add_caption(ax, ["Lähde: Kuntaliitto"])
        where = clear.texts[0].get_position()
        save_figure(clear, "clear", notebook="n1", lang="fi")
        assert clear.texts[0].get_position() == where  # already clear: not moved


def test_the_site_shows_a_figure_without_the_caption_lines_its_figcaption_gives(tmp_path, monkeypatch):
    import IPython.display
    import matplotlib as mpl
    import nbformat
    from PIL import Image

    from kuntalib.pipeline.site import _figures
    from kuntalib.theme import set_theme

    def draw(caption: bool):
        fig, ax = plt.subplots()  # the theme's size, as the charts draw
        ax.barh(["edisti", "oli esteenä"], [58, 12])
        ax.set_title("Mikä edisti?", loc="left")
        ax.set_xlabel("osuus vastanneista (%)")
        if caption:
            add_caption(ax, ["Lähde: Kuntaliitto: Kunta-alan innovaatiobarometri 2022. " + "Pitkä lähdeviite " * 12, "N = 178 · 2022"])
        return fig

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    with mpl.rc_context():
        set_theme()  # as the notebooks draw: saved to the figure's tight box
        present.figure(draw(caption=True), "edisti", notebook="n1", lang="fi")
        bare = io.BytesIO()
        draw(caption=False).savefig(bare, format="png")
        plain, _ = plt.subplots(figsize=(2, 1))
        present.figure(plain, "plain", notebook="n1", lang="fi")
        laid_out = draw(caption=True)
        laid_out.tight_layout()  # leaves a layout engine: savefig measures its own box, picture_box measures too
        present.figure(laid_out, "laid_out", notebook="n1", lang="fi")
    data, meta = shown[0]._repr_png_()
    assert "N = 178 · 2022" in meta["kuntalib"]["caption"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": data}, metadata={"image/png": meta})])])
    [(_, web_path, size)] = _figures(nb, tmp_path / "img")
    saved, web = Image.open(paths.figures_dir("n1", "fi") / "edisti.png"), Image.open(web_path)
    bare = Image.open(bare)
    # The site's copy is the picture as it is without its caption lines (to a pixel of rounding)...
    assert abs(web.width - bare.width) <= 1 and abs(web.height - bare.height) <= 1 and web.height < saved.height - 40
    left, top, right, bottom = meta["kuntalib"]["picture"]
    kept = np.asarray(saved.convert("RGB").crop((left, top, right, bottom)), dtype=int)
    assert np.abs(kept - np.asarray(web.convert("RGB"), dtype=int)).mean() < 2  # the same pixels, in a 256-colour palette
    # ... and no sliver of the caption at its foot.
    assert np.asarray(web.convert("L"))[-3:].min() == 255
    assert size == (round(meta["width"] * web.width / saved.width), round(web.height * size[0] / web.width))
    # A figure with no caption lines is kept whole; one with a layout engine is cut too.
    assert "picture" not in shown[1]._repr_png_()[1]["kuntalib"]
    laid_out_box = shown[2]._repr_png_()[1]["kuntalib"]["picture"]
    assert laid_out_box[3] < Image.open(paths.figures_dir("n1", "fi") / "laid_out.png").height - 40


def test_numbers_in_texts_follow_the_language():
    assert present.say("nb.02_device_data.simulated", "fi", clients=150, devices=464, sent=83007).startswith(
        "Simuloitiin 150 asiakasta, 464 laitetta ja 83\u00a0007 FHIR-resurssia")
    assert "83,007 FHIR resources" in present.say("nb.02_device_data.simulated", "en", clients=150, devices=464, sent=83007)


def test_workbook_has_localised_headers_sources_and_stable_bytes(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from kuntalib.outputs import save_table, write_workbook

    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    save_table(pd.DataFrame({"subregion": ["Salo"], "population_2021": [59963], "change_pct": [-7.1]}), "population_change",
               notebook="03_scenarios", lang="sv")
    path = write_workbook("03_scenarios", "sv", sources=["scenarios/varsinais-suomi/population_subregions.csv"])
    first = path.read_bytes()
    assert write_workbook("03_scenarios", "sv", sources=["scenarios/varsinais-suomi/population_subregions.csv"]).read_bytes() == first
    wb = load_workbook(io.BytesIO(first))
    assert wb.sheetnames == ["population_change", "Källor"]
    ws = wb["population_change"]
    assert [c.value for c in ws[1]] == ["ekonomisk region", "folkmängd 2021", "förändring (%)"]
    assert ws["B2"].value == 59963 and ws["B2"].number_format == "#,##0" and ws["C2"].value == -7.1
    src = [c.value for c in wb["Källor"][2]]
    assert src[0] == "scenarios/varsinais-suomi/population_subregions.csv"
    assert "City Population" in src[1] and src[2].startswith("https://www.citypopulation.de/")
    with zipfile.ZipFile(path) as z:
        assert {i.date_time for i in z.infolist()} == {(2000, 1, 1, 0, 0, 0)}


def test_workbook_gives_codes_in_words_and_the_csv_keeps_them(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from kuntalib.outputs import VALUE_LABELS, save_table, write_workbook
    from kuntalib.scenarios.context import REALISATION

    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    lights = ["red", "yellow", "green", "unknown", "not_estimable"]
    csv = save_table(pd.DataFrame({"indicator": ["a"] * 5, "status": lights, "target_1": lights[::-1]}), "status",
                     notebook="04_strategy_followup", lang="fi")
    save_table(pd.DataFrame({"item_id": list(REALISATION), "actual_status": list(REALISATION)}), "budget",
               notebook="03_scenarios", lang="en")
    ws = load_workbook(write_workbook("04_strategy_followup", "fi"))["status"]
    assert [c.value for c in ws["B"][1:]] == ["jäljessä", "lähellä", "tavoitteessa", "ei tietoa", "ei arvioitavissa"]
    assert [c.value for c in ws["C"][1:]] == ["ei arvioitavissa", "ei tietoa", "tavoitteessa", "lähellä", "jäljessä"]
    assert ws["A2"].value == "a" and "red" in csv.read_text(encoding="utf-8")  # the CSV keeps the codes
    ws = load_workbook(write_workbook("03_scenarios", "en"))["budget"]
    assert [c.value for c in ws["A"][1:]] == list(REALISATION) and "the budget year had not begun" in [c.value for c in ws["B"]]
    save_table(pd.DataFrame({"question_id": ["promoters"] * 3, "answer": ["promoted", "barrier", "not_relevant"],
                             "share_now": [1.0, 2.0, 3.0]}), "comparison_2018", notebook="01_barometer", lang="sv")
    ws = load_workbook(write_workbook("01_barometer", "sv"))["comparison_2018"]
    assert [c.value for c in ws["B"]] == ["svar", "främjade", "var ett hinder", "inte relevant"]
    assert ws["C1"].value == "andel i denna omgång (%)"
    for lang in LANGS:  # every code of every labelled column has its words in every language
        have = messages(lang)
        assert all(VALUE_LABELS["actual_status"].format(code) in have for code in REALISATION)
        assert all(VALUE_LABELS["status"].format(code) in have for code in lights)


def _executed(path: Path, title: str, images: list[tuple[str, str]]) -> None:
    """An executed notebook with a title and one PNG output per (name, alt), as kuntalib.present.figure shows them."""
    import base64

    import nbformat

    fig, ax = plt.subplots(figsize=(2, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = base64.b64encode(buf.getvalue()).decode()
    outputs = [nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}, metadata={
        "image/png": {"alt": alt, "width": 100, "kuntalib": {"name": name, "title": f"{name} title", "caption": "Lähde: x\ny"}}})
        for name, alt in images]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}"), nbformat.v4.new_code_cell("x", outputs=outputs)])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_pages_number_figures_link_tables_and_neighbours(tmp_path, monkeypatch):
    from kuntalib.outputs import save_table
    from kuntalib.pipeline.site import publish
    from tests.test_site import check_site

    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    for stem in ("n1", "n2", "n3"):
        _executed(paths.executed_dir("fi") / f"{stem}.ipynb", f"Otsikko {stem}", [("a", "Kuvio: A."), ("b", "Kuvio: B.")])
    save_table(pd.DataFrame({"x": [1]}), "values", notebook="n2", lang="fi")
    (paths.tables_dir("n2", "fi") / "n2.xlsx").write_bytes(b"PK")
    written = publish()
    site = paths.site_dir()
    pages = check_site(site)
    assert {site / "jupyterlab.css", site / "fi" / "img" / "n2" / "b.png", site / "fi" / "data" / "n2" / "n2.xlsx"} <= set(written)
    n2, code = pages[site / "fi" / "n2.html"], pages[site / "fi" / "code" / "n2.html"]
    assert n2.images == [("Kuvio: A.", 0), ("Kuvio: B.", 1)] and n2.captions == ["Kuva 1. a titleLähde: xy", "Kuva 2. b titleLähde: xy"]
    assert n2.rel == {"prev": "n1.html", "next": "n3.html"} and code.rel == n2.rel
    assert "data/n2/n2.xlsx" in n2.links and "data/n2/values.csv" in n2.links and "../data/n2/values.csv" in code.links
    assert pages[site / "fi" / "n1.html"].rel == {"next": "n2.html"} and pages[site / "fi" / "n3.html"].rel == {"prev": "n2.html"}
    html = (site / "fi" / "n2.html").read_text(encoding="utf-8")
    assert "Seuraava: Otsikko n3" in html and "Lataa taulukot" in html and 'href="../jupyterlab.css"' in html
    assert "data:image" not in html and len(html) < 60_000  # figures and JupyterLab's style are files of their own
    assert len((site / "jupyterlab.css").read_bytes()) < 30_000  # only the rules the pages use (all of it: ~250 kB)


def test_the_style_sheet_keeps_what_a_page_uses():
    from kuntalib.pipeline.css import used_css

    css = """
:root { --ink: var(--grey-9); --grey-9: #111; --unused: red; --accent: blue; }
.jp-Cell { color: var(--ink); }
.jp-Cell:hover { background: var(--accent); }
.jp-Cell::before, .jp-Dialog { content: ""; }
a:after { content: " ↗"; }
.jp-Dialog { display: none; }
.jp-Cell > p { margin: 0; }
.jp-Cell > span { margin: 1px; }
#main .x { padding: 0; }
p:-moz-unknown-state { color: red; }
@media print { .jp-Cell { color: black; } .jp-Dialog { color: red; } }
@media (max-width: 1px) { .jp-Menu { color: red; } }
@keyframes fade { to { opacity: var(--fade-to); } }
:root { --fade-to: 0; }
.jp-Cell p { animation: fade 1s; }
:is(.jp-Cell:hover, .jp-Dialog) p { color: red; }
.x-none:checked { color: red; }
@layer base { .jp-Cell { margin: 0; } .jp-Dialog { margin: 1px; } }
@property --angle { syntax: "<angle>"; inherits: false; initial-value: 0deg; }
.jp-Cell > :hover p { color: olive; }
.jp-Cell :focus { color: navy; }
& .jp-Cell { color: maroon; }
"""
    css += ":root { --code-ink: green; --attr-ink: teal; }"
    pages = ['<html><head><style>.highlight .k { color: var(--code-ink); }</style></head><body>'
             '<div class="jp-Cell"><p style="color: var(--attr-ink)">x</p><a href="#">y</a></div></body></html>']
    out = used_css(css, pages)
    kept = " ".join(out.split())
    assert ".jp-Cell { color: var(--ink); }" in kept and ".jp-Cell:hover" in kept and ".jp-Cell::before, .jp-Dialog" in kept
    assert "a:after" in kept and ".jp-Cell > p" in kept and "p:-moz-unknown-state" in kept  # unreadable: kept
    assert ".jp-Cell > span" not in kept and "#main" not in kept and ".jp-Dialog { display" not in kept
    assert "@media print{ .jp-Cell { color: black; } }" in kept.replace("print {", "print{") and ".jp-Menu" not in kept
    assert "--ink: var(--grey-9)" in kept and "--grey-9: #111" in kept and "--accent: blue" in kept and "--unused" not in kept
    assert "--code-ink: green" in kept and "--attr-ink: teal" in kept  # read by the page's own style
    assert "@keyframes fade" in kept and "--fade-to: 0" in kept  # at-rules other than blocks are kept whole
    assert ":is(.jp-Cell:hover, .jp-Dialog) p" in kept  # a reader's state inside :is(): kept
    assert "@layer base{ .jp-Cell { margin: 0; } }" in kept.replace("base {", "base{") and "@property --angle" in kept
    assert "olive" not in kept  # a state standing for a whole compound is any element: no p inside a child of .jp-Cell
    assert ".jp-Cell :focus" in kept and "& .jp-Cell" in kept  # an element inside .jp-Cell; & is where the search starts
    assert used_css(out, pages) == out  # once is enough: the sheet kept is the sheet kept again


_TAGS, _CLASSES = ("div", "p", "span"), ("a", "b", "c")


@st.composite
def _page_and_selectors(draw):
    """A small page of nested elements with classes and ids, and selectors of up to three compounds."""
    def element(depth: int) -> str:
        tag = draw(st.sampled_from(_TAGS))
        classes = draw(st.lists(st.sampled_from(_CLASSES), max_size=2, unique=True))
        ident = draw(st.sampled_from(["", "", "x"]))
        attrs = (f' class="{" ".join(classes)}"' if classes else "") + (f' id="{ident}"' if ident else "")
        inner = "".join(element(depth + 1) for _ in range(draw(st.integers(0 if depth else 1, 2 if depth < 3 else 0))))
        return f"<{tag}{attrs}>{inner}</{tag}>"

    simple = st.sampled_from([*(f".{c}" for c in _CLASSES), "#x", ":hover", ":not(.a)"])
    compound = st.tuples(st.sampled_from(["", *_TAGS, "*"]), st.lists(simple, max_size=2)).map(lambda t: t[0] + "".join(t[1]) or "*")
    selector = st.tuples(compound, st.lists(st.tuples(st.sampled_from([" ", " > ", " + ", " ~ "]), compound), max_size=2)).map(
        lambda t: t[0] + "".join(c + part for c, part in t[1]))
    return f"<html><body>{element(0)}</body></html>", draw(st.lists(selector, min_size=1, max_size=12))


@given(_page_and_selectors())
def test_the_style_sheet_looks_a_selector_up_as_a_search_of_the_whole_page_finds_it(case):
    """used_css tries a selector only on the elements its last compound names (class, id or tag): the same answer
    as soupsieve's search of every element."""
    import soupsieve
    import tinycss2
    from bs4 import BeautifulSoup

    from kuntalib.pipeline.css import _matchable, _Pages

    page, selectors = case
    pages, soup = _Pages([page]), BeautifulSoup(page, "html.parser")
    for selector in selectors:
        prelude = tinycss2.parse_stylesheet(selector + " {}")[0].prelude
        assert pages.used(prelude) == (soupsieve.select_one(_matchable(prelude), soup) is not None), (page, selector)


def test_every_raw_file_has_a_public_citation_without_repository_paths(monkeypatch):
    from kuntalib.sources import cite, load_citations

    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    raw = REPO / "data" / "raw"
    files = sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*")
                   if p.is_file() and not p.name.endswith(".provenance.yml") and p.name != "citations.yml")
    cits = load_citations()
    assert set(files) <= set(cits.files), sorted(set(files) - set(cits.files))
    for f in files:
        for lang in LANGS:
            text = cite(f, lang)
            assert "shared/" not in text and "repository" not in text and "kuntalib/" not in text, (f, lang, text)
            c = cits.by_id[cits.files[f]]
            assert c.publisher[lang] in text and (not c.url or text.endswith(c.url))


def test_bp_trend_band_carries_the_intercept_uncertainty():
    from kuntalib.fhir.analysis import TrendResult

    fixed = pd.DataFrame({"term": ["Intercept", "week"], "coef": [143.0, -0.07], "se": [0.9, 0.05],
                          "ci_low": [141.2, -0.17], "ci_high": [144.8, 0.03]})
    t = TrendResult(fixed, 100, 1000, True, {}, pd.DataFrame({"day": [0, 7], "week": [0.0, 1.0], "value": [143, 143]}), -0.01)
    line = t.line(np.array([0.0, 5.0]))
    assert line["high"].iloc[0] - line["low"].iloc[0] == pytest.approx(2 * 1.959964 * 0.9, rel=1e-4)  # not pinched to 0
    from kuntalib.fhir.charts import plot_trend

    lo, hi = plot_trend(t, lang="fi").get_ylim()
    assert hi - lo >= 20  # a few tenths of mmHg are not drawn as a slope


def test_suppressed_alert_cells_are_marked_off_the_count_scale():
    from kuntalib.fhir.charts import plot_alerts

    th = pd.DataFrame({"rule_id": ["r"], "label_fi": ["sääntö"], "label_sv": ["regel"], "label_en": ["rule"]})
    summary = pd.DataFrame({"rule_id": ["r", "r"], "week": [1, 2], "alerts": [9.0, np.nan], "persons": [6.0, np.nan],
                            "suppressed": [False, True]})
    ax = plot_alerts(summary, th, lang="fi")
    marks = [c for c in ax.collections if c.get_offsets().shape[0]]
    assert marks and all(y > 1 for y in marks[0].get_offsets()[:, 1])  # above the plot, in axes coordinates
    assert max(p.get_height() + p.get_y() for p in ax.patches) == 9  # no bar of made-up height


# -- slow: the built site -----------------------------------------------------------------------------------------

def _pages(shipped) -> list[tuple[str, Path]]:
    site = shipped.outputs / "site"
    return [(lang, p) for lang in LANGS for p in sorted((site / lang).rglob("*.html"))]


@pytest.mark.slow
def test_every_page_is_wholly_in_its_language(shipped):
    assert shipped.report.ok, shipped.report.summary()
    pages = _pages(shipped)
    assert len(pages) == 3 * (1 + 4 * 2)
    phrases = {lang: foreign_phrases(lang) for lang in LANGS}
    for lang, page in pages:
        html = page.read_text(encoding="utf-8")
        assert re.search(r"<html lang=\"(\w+)\"", html).group(1) == lang, page
        text, alts = page_text(html, lang)
        found = {p: k for p, k in phrases[lang].items() if p in text}
        assert not found, f"{page}: text of another language: {found}"
        assert all(a and a.strip() and NBCONVERT_DEFAULT_ALT not in a for a in alts), f"{page}: image without alt text"
        if page.parent.name == lang and page.name != "index.html":
            assert len(alts) >= 5, page
            # no raw pandas output or repository paths on a reader's page
            for bad in ("dtype:", ">NaN<", 'class="dataframe"', "shared/", "SOURCES.md", "seed deck"):
                assert bad not in html, f"{page}: {bad!r}"


@pytest.mark.slow
def test_pages_number_figures_link_their_tables_and_each_other(shipped):
    from tests.test_site import check_site

    site = shipped.outputs / "site"
    pages = check_site(site)  # every image in a numbered <figure>, every local link a file of the site
    stems = ["01_barometer", "02_device_data", "03_scenarios", "04_strategy_followup"]
    with shipped.env():
        for lang in LANGS:
            for i, stem in enumerate(stems):
                for variant in (site / lang / f"{stem}.html", site / lang / "code" / f"{stem}.html"):
                    parts = pages[variant]
                    up = "../" if variant.parent.name == "code" else ""
                    assert parts.rel == ({"prev": f"{stems[i - 1]}.html"} if i else {}) | (
                        {"next": f"{stems[i + 1]}.html"} if i + 1 < len(stems) else {}), variant
                    assert f"{up}index.html" in parts.links
                    tables = sorted(p.name for p in paths.tables_dir(stem, lang).iterdir())
                    assert tables and all(f"{up}data/{stem}/{name}" in parts.links for name in tables), variant
                    assert len(parts.images) == len(list(paths.figures_dir(stem, lang).glob("*.png"))), variant
                    for alt, _ in parts.images:
                        assert 0 < len(alt) <= 300 and "http" not in alt, (variant, alt)


@pytest.mark.slow
def test_no_finnish_catalogue_text_on_a_swedish_or_english_figure(shipped):
    """Every text of every sv/en figure (its SVG) is free of the catalogue's Finnish: no fragment of a Finnish
    message (12 characters or more, between its fields) that the language's own messages do not also use.
    The same scan finds such fragments on the fi figures, so it can see them."""
    from xml.etree import ElementTree as ET

    from kuntalib.i18n import messages

    def texts(svg: Path) -> str:
        return " ".join(" ".join(" ".join(e.itertext()) for e in ET.parse(svg).iter() if e.tag.endswith("text")).split())

    fi = messages("fi")
    for lang in ("sv", "en"):
        own = messages(lang)
        mine = "\n".join(own.values())
        finnish = {" ".join(f.split()) for k, v in fi.items() if own.get(k) != v
                   for f in re.split(r"\{[^}]*\}|\n", v) if len(f.strip()) >= 12 and f.strip() not in mine}
        svgs = sorted((shipped.outputs / "figures").glob(f"*/{lang}/*.svg"))
        assert len(svgs) > 30
        found = [(svg.relative_to(shipped.outputs).as_posix(), f) for svg in svgs if (t := texts(svg)) for f in finnish if f in t]
        assert not found, found[:10]
        fi_texts = [texts(svg) for svg in (shipped.outputs / "figures").glob("*/fi/*.svg")]
        assert sum(f in t for t in fi_texts for f in finnish) > 50


@pytest.mark.slow
def test_figures_and_workbooks_for_every_notebook_and_language(shipped):
    from openpyxl import load_workbook

    with shipped.env():
        for stem in ("01_barometer", "02_device_data", "03_scenarios", "04_strategy_followup"):
            for lang in LANGS:
                for svg in paths.figures_dir(stem, lang).glob("*.svg"):
                    text = svg.read_text(encoding="utf-8")
                    assert "shared/" not in text and "seed deck" not in text, svg
                book = paths.tables_dir(stem, lang) / f"{stem}.xlsx"
                wb = load_workbook(book, read_only=True)
                sheets = wb.sheetnames
                assert sheets[-1] == {"fi": "Lähteet", "sv": "Källor", "en": "Sources"}[lang]
                csvs = sorted(p.stem for p in paths.tables_dir(stem, lang).glob("*.csv"))
                assert sheets[:-1] == [c[:31] for c in csvs]


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)  # a language's pages at a time: three tests the workers share (~25 s each)
def test_axe_finds_no_serious_or_critical_violation_on_any_page(shipped, lang):
    from tests.axe_core import ensure_axe
    from tests.test_site import _chromium, served

    _chromium()
    try:
        axe = ensure_axe().read_text(encoding="utf-8")
    except OSError as exc:  # offline and not fetched by make browser
        import os

        if os.environ.get("KUNTALIB_REQUIRE_BROWSER"):
            raise
        pytest.skip(f"axe-core not available: {exc}")
    site = shipped.outputs / "site"
    # every page of the site is one language's, or the site's index: the three tests check them all
    assert set(site.rglob("*.html")) == {site / "index.html", *(p for lg in LANGS for p in (site / lg).rglob("*.html"))}
    bad: dict[str, list] = {}
    n = cells = 0
    misaligned: list[str] = []
    with served(site) as (base, browser):
        page = browser.new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((base, "data:")) else r.abort())
        for html in sorted((site / lang).rglob("*.html")) + ([site / "index.html"] if lang == "fi" else []):
            rel = html.relative_to(site).as_posix()
            assert page.goto(base + rel, wait_until="load").status == 200
            page.add_script_tag(content=axe)
            violations = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
            serious = [v for v in violations if v["impact"] in ("serious", "critical")]
            if serious:
                bad[rel] = serious
            # a table's words read from the left and its numbers line up on the right (JupyterLab's style right-aligns all)
            aligned = page.eval_on_selector_all(".kl-table td", "els => els.map(e => [e.classList.contains('num'), getComputedStyle(e).textAlign])")
            misaligned += [rel for num, align in aligned if align != ("right" if num else "left")][:1]
            cells += len(aligned)
            n += 1
    assert n == (lang == "fi") + 1 + 4 * 2  # the language's index, four notebooks without and with code; the site's index
    assert not bad, bad
    assert cells > 100 and not misaligned, misaligned
