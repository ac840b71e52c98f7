"""The foresight academy's own parts of the deck: its operating model, its facts and the deck's claims.

The deck's diagrams survive in its text only as their words: no position, box or arrow. So
:func:`plot_operating_model` draws every text of the operating-model diagram in the order the deck's
text gives them, in a grid that is kuntalib's arrangement (the figure says so), with no relations;
colour says one thing only, which parts this page rebuilds from data. :func:`academy_facts` gives the
facts as sentences; :func:`region_claims` the deck's claims about the region with what the shipped
data can say of each, a claim about the working-age population being judged from the total population
only where the data have nothing else, and said so.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from kuntalib.deck import DeckFile, check_claims
from kuntalib.i18n import Msg, check_lang, pick
from kuntalib.scenarios.context import population_change
from kuntalib.theme import ROLE, add_caption, fmt_pct, new_axes

__all__ = ["plot_operating_model", "plot_work_model", "work_model_note", "academy_facts", "region_claims"]

_T = {
    "title": Msg("scenarios.academy.operating_title"),
    "note": Msg("scenarios.academy.operating_note"),
    "rebuilt": Msg("scenarios.academy.rebuilt"),
    "named": Msg("scenarios.academy.named_only"),
    "caps": Msg("scenarios.academy.caps"),
    "work_note": Msg("scenarios.academy.work_model_note"),
    "total_only": Msg("scenarios.academy.claim_total_only"),
    "total_fails": Msg("scenarios.academy.claim_total_fails"),
}

#: A part rebuilt on the page: a tint of the data colour (the page draws it from data), with the data colour's edge.
REBUILT_FILL = "#CCE3F0"


def plot_operating_model(parts: list[dict[str, Any]], *, rebuilt: Iterable[str] = (), ax: Axes | None = None,
                         lang: str = "fi", columns: int = 5, footer: list[str] | None = None) -> Axes:
    """Every text of the operating-model diagram as a box, in the deck text's order, row by row.

    ``parts`` are the file's ``operating_model`` entries (``id``, ``label``, ``caps`` where the deck
    writes the text in capitals); ``rebuilt`` names the ids this page rebuilds from data, drawn tinted.
    The grid is kuntalib's arrangement and no relation is drawn; the caption says both. ``footer``
    lines (the source) go under the caption.
    """
    check_lang(lang)
    rebuilt = set(rebuilt)
    rows = -(-len(parts) // columns)
    own = ax is None
    ax = new_axes(ax, figsize=(11, 1.3 + 0.95 * rows))
    if own:  # the axes are boxes only: let them fill the figure's width
        ax.figure.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.1)
    ax.set_xlim(0, columns)
    ax.set_ylim(rows, 0)
    ax.axis("off")
    for i, part in enumerate(parts):
        r, c = divmod(i, columns)
        here = part.get("id") in rebuilt
        ax.add_patch(FancyBboxPatch((c + 0.05, r + 0.1), 0.9, 0.8, boxstyle="round,pad=0.02",
                                    fc=REBUILT_FILL if here else "white", ec=ROLE["data"] if here else "#888888",
                                    lw=1.4 if here else 0.8))
        ax.text(c + 0.5, r + 0.5, textwrap.fill(pick(part["label"], lang), 26, break_long_words=False), ha="center",
                va="center", fontsize=8.5, fontweight="bold" if part.get("caps") else "normal")
    ax.set_title(pick(_T["title"], lang).format(n=len(parts)), loc="left")
    handles = [Patch(facecolor=REBUILT_FILL, edgecolor=ROLE["data"], label=pick(_T["rebuilt"], lang)),
               Patch(facecolor="white", edgecolor="#888888", label=pick(_T["named"], lang))]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 0.0), ncol=2, frameon=False, fontsize=8)
    lines = [pick(_T["note"], lang)]
    if any(p.get("caps") for p in parts):
        lines.append(pick(_T["caps"], lang))
    add_caption(ax, [*lines, *(footer or [])], fontsize=7.5)
    return ax


def plot_work_model(work_model: dict[str, Any], *, title: str, notes: list[str] | None = None, ax: Axes | None = None,
                    lang: str = "fi", footer: list[str] | None = None) -> Axes:
    """The work model's stages left to right, joined by arrows, each with its methods under it.

    No colour: the stages differ by place and heading only (a stage is not good or bad, and the
    columns are kuntalib's reading of the deck, which the caption says: :func:`work_model_note`).
    ``notes`` go under the columns, ``footer`` lines under the figure.
    """
    check_lang(lang)
    stages = work_model["stages"]
    n = len(stages)
    depth = max([len(st.get("items") or []) for st in stages] + [1])
    bottom = 0.1 + 0.55 * depth
    own = ax is None
    ax = new_axes(ax, figsize=(max(9.0, 3.2 * n), 1.6 + 0.45 * depth + 0.35 * len(notes or [])))
    if own:
        ax.figure.subplots_adjust(left=0.02, right=0.98, bottom=0.04)
    ax.set_xlim(0, n)
    ax.set_ylim(bottom + 0.2 + 0.45 * len(notes or []), -1.3)
    ax.axis("off")
    for i, st in enumerate(stages):
        ax.add_patch(FancyBboxPatch((i + 0.06, -1.1), 0.88, 0.75, boxstyle="round,pad=0.02", fc="#F2F2F2", ec="#333333",
                                    lw=0.9))
        ax.text(i + 0.5, -0.72, textwrap.fill(pick(st["label"], lang), 26, break_long_words=False), ha="center",
                va="center", fontsize=9.5, fontweight="bold")
        for j, item in enumerate(st.get("items") or []):
            ax.text(i + 0.5, 0.1 + j * 0.55, textwrap.fill(pick(item, lang), 30), ha="center", va="center", fontsize=8.5,
                    bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#888888"})
        if i < n - 1:
            ax.add_patch(FancyArrowPatch((i + 0.95, -0.72), (i + 1.05, -0.72), arrowstyle="-|>", mutation_scale=18,
                                         color="#333333"))
    for k, note in enumerate(notes or []):
        ax.text(0.06, bottom + 0.2 + 0.45 * k, note, fontsize=9, va="center")
    ax.set_title(title, loc="left")
    if footer:
        add_caption(ax, footer, fontsize=7.5)
    return ax


def work_model_note(work_model: dict[str, Any], lang: str = "fi") -> str:
    """The caption line of the work-model figure: what survives of the diagram and what is kuntalib's reading."""
    check_lang(lang)
    also = ", ".join(pick(x["label"], lang) for x in work_model.get("also") or [])
    return pick(_T["work_note"], lang).format(also=also or "–")


def academy_facts(deck: DeckFile, lang: str = "fi") -> list[str]:
    """The academy's facts as sentences (a one-column list reads as sentences, not as a table)."""
    check_lang(lang)
    out = []
    for f in deck.data.get("facts", []):
        t = pick(f["label"], lang).strip()
        out.append(t if t.endswith((".", "!", "?")) else t + ".")
    return out


def region_claims(deck: DeckFile, population: pd.DataFrame | None, lang: str = "fi") -> pd.DataFrame:
    """The deck's claims about the region, each with what the shipped data say of it (columns claim, check, status).

    The status comes from :func:`kuntalib.deck.check_claims`. A claim the file marks ``measured_by:
    total_population`` (the deck speaks of the working-age population, the data give all ages) is judged
    from the total population only and says so, with the change of every sub-region; its status becomes
    ``total_population_only`` (or ``fails``).
    """
    check_lang(lang)
    base = check_claims(deck, population, lang)
    claims = deck.data.get("claims", [])
    for i, c in enumerate(claims):
        if c.get("measured_by") != "total_population" or population is None or base.loc[i, "status"] == "unchecked":
            continue
        ch = population_change(population, lang)
        sub = ch[ch["kind"] == "subregion"]
        first, last = int(population["year"].min()), int(population["year"].max())
        turku = sub[sub["subregion_id"] == "turku"]
        others = sub[sub["subregion_id"] != "turku"]
        fields = {"a": first, "b": last,
                  "turku": ", ".join(f"{r.subregion} {fmt_pct(r.change_pct, 1, lang)}" for r in turku.itertuples()),
                  "others": ", ".join(f"{r.subregion} {fmt_pct(r.change_pct, 1, lang)}" for r in others.itertuples())}
        holds = base.loc[i, "status"] == "holds"
        base.loc[i, "check"] = pick(_T["total_only" if holds else "total_fails"], lang).format(**fields)
        base.loc[i, "status"] = "total_population_only" if holds else "fails"
    return base
