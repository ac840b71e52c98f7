"""The seed deck's non-numeric parts: timelines, processes, diagrams and claims, each entry quoting the deck.

Files of format ``kuntalib.deck/1`` (YAML under ``data/raw``) hold what the deck says of KOTIDIGI,
the foresight academy, the seminar's cases and Rautjärvi's strategy process. Every mapping with a
``quote`` quotes the deck sentence it rests on; :func:`load_deck_file` checks each quote against
the seed text (whitespace normalised), when the seed is available (``KUNTALIB_SEED`` or
``../shared/seeds/`` beside the project). Charts here draw those files: a timeline of phases and
milestones, a flow of boxes, and a process of dated and ordered steps.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from babel.dates import format_date
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from kuntalib import paths
from kuntalib.i18n import LANGS, LOCALES, check_lang, pick, text
from kuntalib.theme import PALETTE, add_caption, fmt_date, fmt_pct, fmt_range, new_axes
from kuntalib.yamlsafe import safe_load_file

__all__ = ["DeckError", "DeckFile", "SEED_ENV", "seed_text", "load_deck_file", "plot_timeline", "timeline_table", "plot_flow",
           "plot_process", "plot_grid", "check_claims", "case_table"]

SEED_ENV = "KUNTALIB_SEED"
SEED_NAME = "000_9036ed6640ce4509.txt"


class DeckError(ValueError):
    """A deck file that is malformed or quotes a sentence the deck does not contain (names file and key path)."""


def _norm(s: str) -> str:
    return " ".join(s.split())


def seed_text() -> str | None:
    """The seed deck's text, whitespace normalised, or None where it is not available."""
    env = os.environ.get(SEED_ENV)
    path = Path(env) if env else paths.proj_root().parent / "shared" / "seeds" / SEED_NAME
    if not path.is_file():
        return None
    return _norm(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class DeckFile:
    """A loaded deck file: its data and whether its quotes were checked against the seed."""

    path: Path
    data: dict[str, Any]
    quotes: int
    quotes_checked: bool

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def quotes_note(self) -> str:
        """Catalogue key of the sentence saying whether the quotes were checked against the seed."""
        return "deck.quotes_checked" if self.quotes_checked else "deck.quotes_unchecked"


def _labels(value: Any, where: str) -> None:
    if not (isinstance(value, dict) and all(isinstance(value.get(lang), str) and value[lang].strip() for lang in LANGS)):
        raise DeckError(f"{where}: give a text for each of {', '.join(LANGS)}")


def load_deck_file(path: str | Path, *, require_seed: bool = False) -> DeckFile:
    """Read a ``kuntalib.deck/1`` file and check every ``quote`` against the seed deck.

    Raises
    ------
    DeckError
        The file is not a deck file, a ``label`` lacks a language, an entry lacks its quote, or a
        quote does not occur in the seed (the message names the file and the entry's key path).
    """
    path = Path(path)
    data = safe_load_file(path)
    if not isinstance(data, dict) or data.get("format") != "kuntalib.deck/1":
        raise DeckError(f"{path}: not a kuntalib.deck/1 file")
    seed = seed_text()
    if seed is None and require_seed:
        raise DeckError(f"{path}: the seed deck is not available (set {SEED_ENV})")
    count = 0

    def walk(x: Any, where: str) -> None:
        nonlocal count
        if isinstance(x, dict):
            if "label" in x:
                _labels(x["label"], f"{path}: {where}.label")
                if "quote" not in x:
                    raise DeckError(f"{path}: {where}: no quote of the deck sentence it rests on")
            if "quote" in x:
                q = x["quote"]
                if not isinstance(q, str) or not q.strip():
                    raise DeckError(f"{path}: {where}.quote must be a non-empty text")
                count += 1
                if seed is not None and _norm(q) not in seed:
                    raise DeckError(f"{path}: {where}.quote does not occur in the seed deck: {q!r}")
            for k, v in x.items():
                walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]")

    walk(data, "")
    return DeckFile(path, data, count, seed is not None)


def _month(value: Any, end: bool = False) -> pd.Timestamp | None:
    """'2018-02' or a date -> a timestamp (a month's start, or its end when ``end``)."""
    if value is None:
        return None
    s = str(value)
    t = pd.Timestamp(s + "-01" if len(s) == 7 else s)
    if end and len(s) == 7:
        t = t + pd.offsets.MonthEnd(0)
    return t


def _timeline_status(start: pd.Timestamp, end: pd.Timestamp | None, presented: pd.Timestamp | None,
                     uncertain: bool = False) -> str:
    """'past', 'current', 'planned' or (timing uncertain, not wholly later) 'uncertain', as of the deck's own
    date (``presented``); 'past' without one."""
    if presented is not None and start > presented:
        return "planned"
    if uncertain:
        return "uncertain"
    if presented is None or end is None or end <= presented:
        return "past"
    return "current"


def _presented(d: dict[str, Any]) -> pd.Timestamp | None:
    p = d.get("presented")
    return _month(p["date"]) if isinstance(p, dict) and p.get("date") else None


def _detail(entry: dict[str, Any], lang: str) -> str:
    return pick(entry["detail"], lang) if entry.get("detail") else ""


def _span(p: dict[str, Any], lang: str) -> str:
    """A phase's dates as the deck gives them: months (2/2018–2/2019, Feb 2018 – Feb 2019) or years (2022/2023)."""
    if p.get("precision") == "year":
        return f"{str(p['start'])[:4]}/{str(p['end'])[:4]}" if p.get("end") else str(p["start"])[:4]
    a, b = _when({"date": p["start"]}, lang), _when({"date": p["end"]}, lang) if p.get("end") else ""
    return f"{a}–{b}" if b and lang != "en" else f"{a} – {b}" if b else a


def plot_timeline(deck: DeckFile, *, ax: Axes | None = None, lang: str = "fi", source: str = "") -> Axes:
    """Phases as bars, decisions as diamonds, forums as dots labelled with name, date and venue.

    The time axis runs from the first year of the data to the end of its last year. A phase whose
    timing the deck leaves open is hatched, with the reason beside it; what the deck dates after its own
    date (``presented``) was planned then: a hatched bar or a hollow dot in the plan colour, and a dashed
    line marks the deck's date. A phase without dates, and the work the deck names as support
    (``support``), are listed under the chart.
    """
    import matplotlib.dates as mdates
    from matplotlib.ticker import FixedLocator, NullFormatter

    from kuntalib.theme import ROLE

    check_lang(lang)
    d = deck.data
    presented = _presented(d)
    phases = sorted((p for p in d.get("phases", []) if p.get("start")), key=lambda p: _month(p["start"]))
    undated = [p for p in d.get("phases", []) if not p.get("start")]
    milestones = sorted(d.get("milestones", []), key=lambda m: _month(m["date"]))
    forums = sorted(d.get("forums", []), key=lambda f: _month(f["date"]))
    times = ([_month(p["start"]) for p in phases] + [_month(p["end"], end=True) for p in phases if p.get("end")]
             + [_month(m["date"]) for m in milestones] + [_month(f["date"]) for f in forums])
    first, last = min(times).year, max(times).year
    left, right = pd.Timestamp(f"{first}-01-01"), pd.Timestamp(f"{last + 1}-01-01")  # the data's years, no more
    ax = new_axes(ax, figsize=(11, 2.2 + 0.6 * (len(phases) + 2)))
    fig = ax.figure
    plan = ROLE["target"]
    y_ms, y_fo = len(phases), len(phases) + 1
    ax.set_xlim(mdates.date2num(left), mdates.date2num(right))
    ax.set_ylim(y_fo + 1.15, -0.7)
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    for y, p in enumerate(phases):
        a, b = _month(p["start"]), _month(p["end"], end=True) if p.get("end") else right
        planned = _timeline_status(a, b, presented) == "planned"
        hatched = planned or bool(p.get("uncertain"))
        colour = plan if planned else ROLE["data"]
        ax.barh(y, mdates.date2num(b) - mdates.date2num(a), left=mdates.date2num(a), height=0.6,
                color="white" if hatched else colour, edgecolor=colour, hatch="///" if hatched else None, linewidth=0.8)
        funding = p.get("funding")
        note = ""
        if funding:
            note = (text("deck.funding", lang, rate=funding["rate"]) if funding.get("rate") is not None
                    else text("deck.funding_unknown", lang))
            note = f"{note} ({pick(funding['by'], lang)})"
        span = _span(p, lang).replace(" ", "\u00a0")  # kept on one line
        label = "\n".join([textwrap.fill(f"{pick(p['label'], lang)}, {span}", 80)]
                          + [x for x in (note, pick(p["uncertain"], lang) if p.get("uncertain") else "") if x])
        t = ax.text(mdates.date2num(b + pd.Timedelta(days=30)), y, label, va="center", ha="left", fontsize=7.5, zorder=4,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        if t.get_window_extent(renderer).x1 > box.x1:  # no room right of the bar: write it on the left
            t.set_x(mdates.date2num(a - pd.Timedelta(days=30)))
            t.set_ha("right")
    for k, m in enumerate(milestones, start=1):
        t = mdates.date2num(_month(m["date"]))
        ax.plot([t], [y_ms], marker="D", color=ROLE["second"], markersize=7, zorder=3, ls="none")
        ax.text(t, y_ms - 0.32 - 0.22 * (k % 2), str(k), ha="center", fontsize=7, color="#333333")
    for k, f in enumerate(forums):
        when = _month(f["date"])
        planned = _timeline_status(when, None, presented) == "planned"
        colour = plan if planned else ROLE["second"]
        ax.plot([mdates.date2num(when)], [y_fo], marker="o", markersize=8, zorder=3, ls="none",
                markerfacecolor="white" if planned else colour, markeredgecolor=colour, markeredgewidth=1.5)
        lines = [pick(f["label"], lang), ", ".join(x for x in (_when(f, lang), _detail(f, lang)) if x)]
        if planned:
            lines.append(text("deck.timeline.planned_then", lang))
        # under and over the row in turn: neighbouring forums (a year apart) have their labels on opposite sides
        below = k % 2 == 0
        ax.text(mdates.date2num(when), y_fo + (0.22 if below else -0.22), "\n".join(lines), ha="center",
                va="top" if below else "bottom", fontsize=7, color=plan if planned else "#333333", zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    if presented is not None:
        ax.axvline(mdates.date2num(presented), color="#555555", lw=0.9, ls="--", zorder=1)
        ax.text(mdates.date2num(presented), -0.62, " " + text("deck.timeline.presented", lang, date=fmt_date(presented, lang)),
                fontsize=7, color="#555555", va="top", ha="left")
    ax.set_yticks(range(len(phases) + 2), [""] * len(phases) + [text("deck.milestone", lang), text("deck.timeline.forums", lang)],
                  fontsize=8)
    # Years as labels centred on their span; gridlines at the turn of each year.
    ax.xaxis.set_major_locator(FixedLocator([mdates.date2num(pd.Timestamp(f"{y}-01-01")) for y in range(first, last + 2)]))
    ax.xaxis.set_major_formatter(NullFormatter())
    ax.xaxis.set_minor_locator(FixedLocator([mdates.date2num(pd.Timestamp(f"{y}-07-01")) for y in range(first, last + 1)]))
    ax.xaxis.set_minor_formatter(lambda v, _p: str(mdates.num2date(v).year))
    ax.tick_params(axis="x", which="minor", length=0, labelsize=10)
    ax.grid(axis="y", visible=False)
    ax.set_title(pick(d["title"], lang), loc="left")
    handles = [Patch(facecolor=ROLE["data"], edgecolor=ROLE["data"], label=text("deck.phase", lang)),
               Patch(facecolor="white", edgecolor=ROLE["data"], hatch="///", label=text("deck.uncertain", lang))]
    if presented is not None:
        handles.append(Patch(facecolor="white", edgecolor=plan, hatch="///",
                             label=text("deck.timeline.planned_legend", lang, date=fmt_date(presented, lang))))
    if milestones:
        handles.append(Line2D([], [], marker="D", ls="none", color=ROLE["second"], markersize=7, label=text("deck.milestone", lang)))
    if forums:
        handles.append(Line2D([], [], marker="o", ls="none", color=ROLE["second"], markersize=7, label=text("deck.timeline.forum", lang)))
        if presented is not None and any(_month(f["date"]) > presented for f in forums):
            handles.append(Line2D([], [], marker="o", ls="none", markerfacecolor="white", markeredgecolor=plan, markeredgewidth=1.5,
                                  markersize=7, label=text("deck.timeline.forum_planned", lang)))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7.5, frameon=False)
    ms_text = "; ".join(f"{k}) {_when(m, lang)} {pick(m['label'], lang)}" + (f", {_detail(m, lang)}" if m.get("detail") else "")
                        for k, m in enumerate(milestones, start=1))
    lines = [ms_text] if ms_text else []
    lines += [f"{pick(p['label'], lang)}: {text('deck.not_dated', lang)}"
              + (f", {text('deck.funding', lang, rate=p['funding']['rate'])}" if p.get("funding", {}).get("rate") else "")
              for p in undated]
    if d.get("support"):
        lines.append(text("deck.timeline.support", lang) + " " + "; ".join(
            pick(s["label"], lang) + (f", {_detail(s, lang)}" if s.get("detail") else "") for s in d["support"]))
    if source:
        lines.append(text("cite.source", lang, source=source))
    add_caption(ax, lines, fontsize=7)
    return ax


def timeline_table(deck: DeckFile, lang: str) -> pd.DataFrame:
    """Every entry of a timeline file as a table: when (as the deck gives it), what, the deck's detail, status.

    Columns ``when``, ``event``, ``detail`` (venue, partners, funding) and ``status`` (as of the deck's own
    date: before it, under way, or planned then), texts in ``lang``; undated entries last.
    """
    check_lang(lang)
    d = deck.data
    presented = _presented(d)
    rows: list[tuple[pd.Timestamp | None, dict[str, str]]] = []

    def status(key: str) -> str:
        return text(f"deck.timeline.status.{key}", lang, date=fmt_date(presented, lang)) if presented is not None else ""

    for p in d.get("phases", []):
        funding = p.get("funding")
        parts = [_detail(p, lang)]
        if funding:
            parts.append((text("deck.funding", lang, rate=funding["rate"]) if funding.get("rate") is not None
                          else text("deck.funding_unknown", lang)) + f" ({pick(funding['by'], lang)})")
        if p.get("uncertain"):
            parts.append(pick(p["uncertain"], lang))
        if p.get("start"):
            a = _month(p["start"])
            b = _month(p["end"], end=True) if p.get("end") else None
            key = _timeline_status(a, b, presented, bool(p.get("uncertain")))
            rows.append((a, {"when": _span(p, lang), "event": pick(p["label"], lang), "detail": "; ".join(x for x in parts if x),
                             "status": text("deck.uncertain", lang) if key == "uncertain" else status(key)}))
        else:
            rows.append((None, {"when": text("deck.not_dated", lang), "event": pick(p["label"], lang),
                                "detail": "; ".join(x for x in parts if x), "status": ""}))
    for kind in ("milestones", "forums"):
        for m in d.get(kind, []):
            t = _month(m["date"])
            rows.append((t, {"when": _when(m, lang), "event": pick(m["label"], lang), "detail": _detail(m, lang),
                             "status": status(_timeline_status(t, None, presented))}))
    for s in d.get("support", []):
        rows.append((None, {"when": text("deck.not_dated", lang), "event": pick(s["label"], lang),
                            "detail": "; ".join(x for x in (text("deck.timeline.support_role", lang), _detail(s, lang)) if x),
                            "status": ""}))
    dated = sorted((r for r in rows if r[0] is not None), key=lambda r: r[0])
    return pd.DataFrame([r for _t, r in dated] + [r for t, r in rows if t is None], columns=["when", "event", "detail", "status"])


def plot_grid(parts: list[dict[str, Any]], *, title: str, ax: Axes | None = None, lang: str = "fi", columns: int = 4,
              footer: list[str] | None = None) -> Axes:
    """Parts of a whole as a grid of boxes (no relations drawn): each part's ``label`` in ``lang``."""
    check_lang(lang)
    rows = -(-len(parts) // columns)
    ax = new_axes(ax, figsize=(10, 1.2 + 0.9 * rows))
    ax.set_xlim(0, columns)
    ax.set_ylim(rows, 0)
    ax.axis("off")
    colours = [PALETTE["sky"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"], PALETTE["yellow"]]
    for i, part in enumerate(parts):
        r, c = divmod(i, columns)
        ax.add_patch(FancyBboxPatch((c + 0.05, r + 0.12), 0.9, 0.76, boxstyle="round,pad=0.02", fc=colours[i % 5],
                                    ec="#333333", alpha=0.55, lw=0.8))
        ax.text(c + 0.5, r + 0.5, textwrap.fill(pick(part["label"], lang), 24, break_long_words=False), ha="center",
                va="center", fontsize=8.5)
    ax.set_title(title, loc="left")
    if footer:
        add_caption(ax, footer, fontsize=7, width=130)
    return ax


def plot_flow(stages: list[dict[str, Any]], *, title: str, ax: Axes | None = None, lang: str = "fi",
              notes: list[str] | None = None, footer: list[str] | None = None, arrows: bool = True) -> Axes:
    """Boxes in columns joined by arrows: each stage a heading (``label``) and optional ``items``.

    ``notes`` are written under the boxes; ``footer`` (caption lines, e.g. the source) under the figure.
    """
    check_lang(lang)
    n = len(stages)
    depth = max([len(s.get("items") or []) for s in stages] + [1])
    bottom = 0.1 + 0.55 * depth
    ax = new_axes(ax, figsize=(max(9, 3.2 * n), 1.6 + 0.45 * depth + 0.35 * len(notes or [])))
    ax.set_xlim(0, n)
    ax.set_ylim(bottom + 0.2 + 0.45 * len(notes or []), -1.3)
    ax.axis("off")
    colours = [PALETTE["sky"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"], PALETTE["yellow"]]
    for i, s in enumerate(stages):
        ax.add_patch(FancyBboxPatch((i + 0.06, -1.1), 0.88, 0.75, boxstyle="round,pad=0.02", fc=colours[i % 5],
                                    ec="#333333", alpha=0.55, lw=0.8))
        ax.text(i + 0.5, -0.72, textwrap.fill(pick(s["label"], lang), 26, break_long_words=False), ha="center", va="center", fontsize=9,
                fontweight="bold")
        for j, item in enumerate(s.get("items") or []):
            ax.text(i + 0.5, 0.1 + j * 0.55, textwrap.fill(pick(item, lang), 30), ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": colours[i % 5]})
        if arrows and i < n - 1:
            ax.add_patch(FancyArrowPatch((i + 0.95, -0.72), (i + 1.05, -0.72), arrowstyle="-|>", mutation_scale=18,
                                         color="#333333"))
    for k, note in enumerate(notes or []):
        ax.text(0.05, bottom + 0.2 + 0.45 * k, "• " + note, fontsize=8.5, va="center")
    ax.set_title(title, loc="left")
    if footer:
        add_caption(ax, footer, fontsize=7, width=130)
    return ax


def plot_process(deck: DeckFile, *, ax: Axes | None = None, lang: str = "fi", source: str = "") -> Axes:
    """The process's steps left to right: dated steps at their date, steps known only by order between them.

    A step is labelled with its date at the precision the deck gives (year, month or day); an
    undated step says that only its order is known.
    """
    check_lang(lang)
    events = deck.data["events"]
    ax = new_axes(ax, figsize=(11, 3.6))
    n = len(events)
    for i, e in enumerate(events):
        dated = e.get("date") is not None
        ax.plot([i], [0], marker="o", markersize=10, color=PALETTE["blue"] if dated else "white",
                markeredgecolor=PALETTE["blue"], zorder=3)
        label = textwrap.fill(pick(e["label"], lang), 22, break_long_words=False)
        ax.text(i, 0.15 if i % 2 == 0 else -0.15, (f"{_when(e, lang)}\n" if dated else "") + label,
                ha="center", va="bottom" if i % 2 == 0 else "top", fontsize=7.5)
    ax.plot([0, n - 1], [0, 0], color="#888888", lw=1.2, zorder=1)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(-0.9, 0.9)
    ax.axis("off")
    ax.legend(handles=[Line2D([], [], marker="o", ls="none", color=PALETTE["blue"], label=text("deck.process.dated", lang)),
                       Line2D([], [], marker="o", ls="none", color="white", markeredgecolor=PALETTE["blue"],
                              label=text("deck.process.order_only", lang))],
              loc="lower left", fontsize=7.5, frameon=False, ncol=2)
    ax.set_title(pick(deck.data["title"], lang), loc="left")
    lines = [text("deck.reasons", lang) + " " + " · ".join(pick(r["label"], lang) for r in deck.data.get("reasons", []))]
    if source:
        lines.append(text("cite.source", lang, source=source))
    add_caption(ax, lines, fontsize=7, width=150)
    return ax


def _when(e: dict[str, Any], lang: str) -> str:
    s = str(e["date"])
    precision = e.get("precision") or ("day" if len(s) == 10 else "month" if len(s) == 7 else "year")
    if precision == "year":
        return s[:4]
    if precision == "month":
        t = _month(s)
        return format_date(t.date(), "MMMM y" if lang == "en" else "M/y", locale=LOCALES[lang])  # en: "February 2021"
    return fmt_date(s, lang)


def check_claims(deck: DeckFile, population: pd.DataFrame | None, lang: str) -> pd.DataFrame:
    """Each claim of the deck with what the shipped data says of it: holds, does not hold, or not quantified.

    ``population`` is :func:`kuntalib.scenarios.load_population`'s table (sub-regions by year).
    Returns columns ``claim``, ``check`` (texts in ``lang``) and ``status`` (holds / fails / unchecked).
    """
    rows = []
    for c in deck.data.get("claims", []):
        status, detail = "unchecked", text("deck.claim.unchecked", lang)
        if c.get("check") == "population_growth_only_in_turku" and population is not None:
            sub = population[population["kind"] == "subregion"]
            first, last = sub["year"].min(), sub["year"].max()
            wide = sub.pivot_table(index="subregion_id", columns="year", values="population")
            change = 100 * (wide[last] / wide[first] - 1)
            labels = sub.drop_duplicates("subregion_id").set_index("subregion_id")[f"label_{lang}"]
            turku = [i for i in change.index if i == "turku"]
            others = [i for i in change.index if i not in turku]
            holds = bool(turku) and all(change[t] > 0 for t in turku) and all(change[o] <= 0 for o in others)
            status = "holds" if holds else "fails"
            detail = text(f"deck.claim.{'holds' if holds else 'fails'}", lang) + ". " + text(
                "deck.claim.population_growth_only_in_turku", lang, a=int(first), b=int(last),
                turku=", ".join(fmt_pct(change[t], 1, lang) for t in turku),
                others=", ".join(f"{labels[o]} {fmt_pct(change[o], 1, lang)}" for o in others))
        rows.append({"claim": pick(c["label"], lang), "check": detail, "status": status})
    return pd.DataFrame(rows)


def case_table(deck: DeckFile, figures: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The seminar's cases with the support form each presents and that form's share in the barometer.

    The share comes from the support chart's row (``question_id == "support"``, the case's ``support``
    category): the published value, or the range the text allows where it is not published.
    Columns ``presenter``, ``form``, ``option`` (the support chart's option the case is matched to: kuntalib's
    reading, named so a reader can check it) and ``share_supporting`` (texts in ``lang``).
    """
    check_lang(lang)
    support = figures[(figures["question_id"] == "support") & (figures["answer"] == "yes")].set_index("category_id")
    rows = []
    for c in deck.data["cases"]:
        if c["support"] not in support.index:
            raise DeckError(f"{deck.path}: case {c['id']!r}: support category {c['support']!r} is not in the support chart")
        r = support.loc[c["support"]]
        share = (fmt_pct(r["share"], 0, lang) if pd.notna(r["share"])
                 else f"{fmt_range(r['lower'], r['upper'], 0, lang, percent=True)} ({text('theme.not_published', lang)})")
        rows.append({"presenter": pick(c["presenter"], lang), "form": pick(c["form"], lang), "option": r[f"label_{lang}"],
                     "share_supporting": share})
    return pd.DataFrame(rows)
