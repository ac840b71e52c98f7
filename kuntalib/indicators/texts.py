"""The words and numbers of a follow-up round, in fi, sv or en: one table the dashboard draws and the notebook publishes.

A target or actual that the indicator file words (``text``) is shown as worded —
the seed's "25 hlöä/v", "Yli 100 %" — otherwise as a number in the language's
format with "%" where the unit is a percentage. A value the round does not have is
"–". Targets relative to a reference series name the reference value and its year.
"""

from __future__ import annotations

import pandas as pd

from kuntalib.i18n import Msg, check_lang, pick
from kuntalib.indicators.model import Indicator
from kuntalib.indicators.status import RULES, FollowUp
from kuntalib.theme import fmt_date, fmt_num, fmt_pct, pct_sign

__all__ = ["value_text", "target_text", "actual_text", "round_table", "compare_rounds", "process_table", "PROCESS_SECTIONS",
           "MISSING"]

MISSING = "–"

_REF = Msg("indicators.texts.ref")
_NO_REF = Msg("indicators.texts.no_ref")


def value_text(value: float, ind: Indicator, lang: str) -> str:
    """A number in ``lang``'s format, with the unit where it is a percentage."""
    decimals = 0 if float(value).is_integer() else 2
    text = fmt_num(value, decimals, lang=lang)
    if pick(ind.unit, lang).strip() == "%":
        return text + pct_sign(lang)
    return text


def target_text(ind: Indicator, lang: str) -> str:
    """The target as worded in the file, or its value; a reference target names the reference value known."""
    check_lang(lang)
    text = ind.target_text(lang) or value_text(float(ind.target["value"]), ind, lang)
    if ind.target["kind"] == "at_most_above_reference":
        ref = ind.reference
        if ref is None or ref.empty:
            return f"{text} ({pick(_NO_REF, lang)})"
        last = ref.iloc[-1]
        v = fmt_pct(last.value, 2, lang)
        text += f" ({pick(_REF, lang).format(v=v, y=last.date.year)})"
    return text


def actual_text(result: FollowUp, ind: Indicator, lang: str) -> str:
    """The round's actual as worded in the file, or its value; "–" where the round has none."""
    check_lang(lang)
    actual = result.actuals.get(ind.id) if result.actuals else ind.latest()
    if actual is None:
        return MISSING
    worded = actual.get(f"text_{lang}")
    return worded if isinstance(worded, str) and worded else value_text(actual.value, ind, lang)


def round_table(result: FollowUp, lang: str) -> pd.DataFrame:
    """One row per indicator, grouped by aim: aim, indicator, target, actual, actual date, the three lights, sources.

    Columns: aim_id, aim, aim_stated, indicator_id, indicator, target, actual, actual_date,
    target_status, trajectory_status, forecast_status, source.
    """
    check_lang(lang)
    f = result.file
    order = {a["id"]: i for i, a in enumerate(f.aims)}
    rows = []
    for k, ind in enumerate(f.indicators):
        aim = f.aim(ind.aim)
        actual = result.actuals.get(ind.id) if result.actuals else ind.latest()
        srcs = [ind.target.get("source")] + ([actual.source] if actual is not None else [])
        rows.append({
            "aim_id": ind.aim or "",
            "aim": pick(aim["label"], lang) if aim else "",
            "aim_stated": ind.aim_stated,
            "indicator_id": ind.id,
            "indicator": pick(ind.label, lang),
            "target": target_text(ind, lang),
            "actual": actual_text(result, ind, lang),
            "actual_date": fmt_date(actual.date, lang) if actual is not None else MISSING,
            **{f"{rule}_status": result.status(ind.id, rule).status for rule in RULES},
            "source": ", ".join(dict.fromkeys(s for s in srcs if s)),
            "_order": (order.get(ind.aim, len(order)), k),
        })
    out = pd.DataFrame(rows)
    return out.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def compare_rounds(first: FollowUp, second: FollowUp, lang: str) -> pd.DataFrame:
    """Each indicator's actual and lights in two rounds, and the change of the actual where both have one.

    Columns: indicator_id, indicator, actual_1, date_1, actual_2, date_2, change, and each rule's
    status in both rounds (``target_1``, ``target_2``, …).
    """
    a, b = round_table(first, lang), round_table(second, lang)
    rows = []
    for ind in second.file.indicators:
        ra = a[a.indicator_id == ind.id].iloc[0]
        rb = b[b.indicator_id == ind.id].iloc[0]
        va, vb = first.actuals.get(ind.id), second.actuals.get(ind.id)
        change = MISSING
        if va is not None and vb is not None:
            diff = vb.value - va.value
            change = ("+" if diff > 0 else "") + fmt_num(diff, 0 if float(diff).is_integer() else 2, lang=lang)
        rows.append({"indicator_id": ind.id, "indicator": rb.indicator, "actual_1": ra.actual, "date_1": ra.actual_date,
                     "actual_2": rb.actual, "date_2": rb.actual_date, "change": change,
                     **{f"{rule}_{n}": r[f"{rule}_status"] for rule in RULES for n, r in ((1, ra), (2, rb))}})
    return pd.DataFrame(rows)


#: The parts of a strategy-process deck file (``kuntalib.deck/1``) that :func:`process_table` shows, in order (its
#: ``reasons`` and ``events`` are drawn by :func:`kuntalib.deck.plot_process`).
PROCESS_SECTIONS = ("name", "facts", "process_goals", "direction", "critical_success_factor", "follow_up",
                    "implementation")


def process_table(deck: dict, lang: str) -> pd.DataFrame:
    """What a strategy-process deck file says in words, one statement a row: topic, statement (texts in ``lang``).

    ``deck`` is the data of a ``kuntalib.deck/1`` file (:func:`kuntalib.deck.load_deck_file`); each section of
    :data:`PROCESS_SECTIONS` it has (one entry, or a list of them, each with a ``label``) gives rows whose topic
    is the section's name (``indicators.process.<section>``), written on its first row only. fi is the deck's
    wording; sv and en are the file's translations. A file without these sections gives an empty table.
    """
    check_lang(lang)
    rows = []
    for section in PROCESS_SECTIONS:
        entries = deck.get(section)
        if not entries:
            continue
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            rows.append({"topic": pick(Msg(f"indicators.process.{section}"), lang) if i == 0 else "",
                         "statement": pick(entry["label"], lang)})
    return pd.DataFrame(rows, columns=["topic", "statement"])
