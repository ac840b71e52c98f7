"""Impact chains (means → outputs → goals) read from YAML and validated.

Format::

    title: {fi: ..., sv: ..., en: ...}
    project: "Mito – Hamina 2020–2022 (STM)"     # optional, plain text
    stages:
      - id: means
        label: {fi: Keinot, sv: Medel, en: Means}
        items:
          - {fi: ..., sv: ..., en: ...}

Every text has all three languages; there are at least two stages, each with a
unique id and at least one item.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuntalib.i18n import LANGS
from kuntalib.yamlsafe import YamlError, safe_load_file

__all__ = ["ImpactChain", "ImpactChainError", "load_impact_chain"]


class ImpactChainError(ValueError):
    """An impact-chain file that does not fit the format (names the file and the place)."""


@dataclass(frozen=True)
class ImpactChain:
    """A validated impact chain: title, project, and stages of items (texts by language)."""

    title: dict[str, str]
    project: str
    stages: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        """The mapping :func:`kuntalib.indicators.charts.plot_impact_chain` draws."""
        return {"title": dict(self.title), "project": self.project, "stages": [dict(s) for s in self.stages]}


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
    unknown = sorted(set(raw) - {"title", "project", "stages"})
    if unknown:
        raise ImpactChainError(f"{path}: unknown field(s) {', '.join(map(str, unknown))}")
    title = _text(raw.get("title"), f"{path}: title")
    project = raw.get("project", "")
    if not isinstance(project, str):
        raise ImpactChainError(f"{path}: project must be text")
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
    return ImpactChain(title, project, tuple(stages))
