"""Impact chains (means → outputs → goals) read from YAML and validated.

Format::

    title: {fi: ..., sv: ..., en: ...}
    project: "Mito – Hamina 2020–2022"           # optional, plain text
    organisation: {fi: ..., sv: ..., en: ...}    # optional
    funder:                                      # optional: who the source names as funding the work
      name: {fi: ..., sv: ..., en: ...}
      stated: false                              # false: the source names it without saying it funds (our reading)
      quote: "Mito -Hamina 2020-2022 STM"        # the source's words
    source_draws: {headings: false, links: false}  # optional: does the source itself head the stages / draw arrows?
    stages:
      - id: means
        label: {fi: Keinot, sv: Medel, en: Means}
        items:
          - {fi: ..., sv: ..., en: ...}

Every text has all three languages; there are at least two stages, each with a
unique id and at least one item. Without ``source_draws`` the stage headings and the arrows between
stages count as the file author's reading of the source (both ``false``): charts say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuntalib.i18n import LANGS
from kuntalib.yamlsafe import YamlError, safe_load_file

__all__ = ["ImpactChain", "ImpactChainError", "load_impact_chain"]


class ImpactChainError(ValueError):
    """An impact-chain file that does not fit the format (names the file and the place)."""


@dataclass(frozen=True)
class ImpactChain:
    """A validated impact chain: title, project, organisation, funder, and stages of items (texts by language).

    ``source_draws`` says whether the source itself heads the stages (``headings``) and draws the
    links between them (``links``); where it does not, both are the file author's reading.
    """

    title: dict[str, str]
    project: str
    stages: tuple[dict[str, Any], ...]
    organisation: dict[str, str] | None = None
    funder: dict[str, Any] | None = None
    source_draws: dict[str, bool] = field(default_factory=lambda: {"headings": False, "links": False})

    def as_dict(self) -> dict[str, Any]:
        """The mapping :func:`kuntalib.indicators.charts.plot_impact_chain` draws."""
        return {"title": dict(self.title), "project": self.project, "stages": [dict(s) for s in self.stages],
                "organisation": dict(self.organisation) if self.organisation else None,
                "funder": dict(self.funder) if self.funder else None, "source_draws": dict(self.source_draws)}


def _text(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ImpactChainError(f"{where}: expected a mapping of fi, sv, en texts")
    missing = [lang for lang in LANGS if not isinstance(value.get(lang), str) or not value[lang].strip()]
    if missing:
        raise ImpactChainError(f"{where}: missing text in {', '.join(missing)}")
    extra = sorted(set(value) - set(LANGS))
    if extra:
        raise ImpactChainError(f"{where}: unknown language(s) {', '.join(map(str, extra))}")
    return {lang: value[lang] for lang in LANGS}


def load_impact_chain(path: str | Path) -> ImpactChain:
    """Read and validate an impact-chain YAML file.

    Raises
    ------
    ImpactChainError
        Not YAML, or a field missing or of the wrong shape; the message names the file and
        the place (``stages[1].items[0]: missing text in sv``).
    """
    path = Path(path)
    try:
        raw = safe_load_file(path)
    except YamlError as exc:
        raise ImpactChainError(str(exc)) from None
    if not isinstance(raw, dict):
        raise ImpactChainError(f"{path}: expected a mapping with title and stages")
    unknown = sorted(set(raw) - {"title", "project", "organisation", "funder", "source_draws", "stages"})
    if unknown:
        raise ImpactChainError(f"{path}: unknown field(s) {', '.join(map(str, unknown))}")
    title = _text(raw.get("title"), f"{path}: title")
    project = raw.get("project", "")
    if not isinstance(project, str):
        raise ImpactChainError(f"{path}: project must be text")
    organisation = _text(raw["organisation"], f"{path}: organisation") if raw.get("organisation") is not None else None
    funder = None
    if raw.get("funder") is not None:
        f = raw["funder"]
        if not isinstance(f, dict) or set(f) - {"name", "stated", "quote"} or "name" not in f:
            raise ImpactChainError(f"{path}: funder: expected name, and optionally stated and quote")
        if not isinstance(f.get("stated", False), bool):
            raise ImpactChainError(f"{path}: funder.stated must be true or false")
        if "quote" in f and (not isinstance(f["quote"], str) or not f["quote"].strip()):
            raise ImpactChainError(f"{path}: funder.quote must be a non-empty text")
        funder = {"name": _text(f["name"], f"{path}: funder.name"), "stated": bool(f.get("stated", False)),
                  "quote": f.get("quote", "")}
    draws = raw.get("source_draws") or {}
    if not isinstance(draws, dict) or set(draws) - {"headings", "links"} or not all(isinstance(v, bool) for v in draws.values()):
        raise ImpactChainError(f"{path}: source_draws: expected headings and links, each true or false")
    source_draws = {"headings": draws.get("headings", False), "links": draws.get("links", False)}
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, list) or len(stages_raw) < 2:
        raise ImpactChainError(f"{path}: stages must be a list of at least two stages")
    stages, seen = [], set()
    for i, st in enumerate(stages_raw):
        where = f"{path}: stages[{i}]"
        if not isinstance(st, dict) or set(st) != {"id", "label", "items"}:
            raise ImpactChainError(f"{where}: expected exactly id, label and items")
        if not isinstance(st["id"], str) or not st["id"] or st["id"] in seen:
            raise ImpactChainError(f"{where}: id must be unique text, got {st['id']!r}")
        seen.add(st["id"])
        if not isinstance(st["items"], list) or not st["items"]:
            raise ImpactChainError(f"{where}.items: expected a non-empty list")
        items = [_text(item, f"{where}.items[{j}]") for j, item in enumerate(st["items"])]
        stages.append({"id": st["id"], "label": _text(st["label"], f"{where}.label"), "items": items})
    return ImpactChain(title, project, tuple(stages), organisation, funder, source_draws)
