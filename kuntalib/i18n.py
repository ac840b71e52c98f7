"""Languages: Finnish first, then Swedish and English. No heavy imports here."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LANGS", "check_lang", "pick", "LangText"]

LANGS: tuple[str, ...] = ("fi", "sv", "en")

#: A text in each language, e.g. ``{"fi": "Asukasluku", "sv": "Folkmängd", "en": "Population"}``.
LangText = Mapping[str, str]


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is one of fi, sv, en; raise ``ValueError`` otherwise."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def pick(labels: LangText, lang: str) -> str:
    """The label in ``lang``, falling back to Finnish."""
    check_lang(lang)
    return labels.get(lang) or labels["fi"]
