"""Public citations for captions, tables and pages: publisher, title, date and address.

Captions name the public source a reader can follow, in the page's language, never a
repository path. The citations live in ``data/raw/sources/citations.yml`` (with its
provenance sidecar): each raw file, and each source key of an indicator file, maps to one.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale

from kuntalib import paths
from kuntalib.i18n import LANGS, check_lang, text
from kuntalib.provenance import Provenance, open_raw, read_provenance
from kuntalib.yamlsafe import safe_load_file

__all__ = ["Citation", "CitationError", "CITATIONS_FILE", "load_citations", "cite", "cite_key", "citation_for"]

CITATIONS_FILE = "sources/citations.yml"


class CitationError(ValueError):
    """The citations file is malformed, or a raw file or source key has no citation."""


@dataclass(frozen=True)
class Citation:
    """One public source: publisher, title and medium per language, date (ISO, a bare year, or ""), address (or "")."""

    id: str
    publisher: dict[str, str]
    title: dict[str, str]
    medium: dict[str, str]
    date: str
    url: str
    #: Language of the title when it is the publication's own (one title for every language), else "".
    title_lang: str = ""

    def language_note(self, lang: str) -> str:
        """"(på finska)": the publication's language in the reader's (Babel's names), when it is another; else ""."""
        if not self.title_lang or self.title_lang == lang:
            return ""
        return text("cite.title_lang", lang, language=Locale.parse(lang).languages.get(self.title_lang, self.title_lang))

    def text(self, lang: str, *, markup: bool = False) -> str:
        """The citation in ``lang``: fi "Kuntaliitto: Otsikko. Seminaariesitys, Kuntamarkkinat 14.9.2022. https://…".

        With ``markup`` the title is wrapped in ``<span lang="..">`` when it is in another language than
        ``lang`` (for HTML and Markdown: screen readers then pronounce it right).
        """
        # theme loads matplotlib and pandas (~2-4 s); `kuntalib source` reads this module without drawing anything
        from kuntalib.theme import fmt_date

        check_lang(lang)
        when = self.date if len(self.date) == 4 else fmt_date(self.date, lang) if self.date else ""  # a year stays a year
        medium = " ".join(p for p in (self.medium[lang], when) if p)
        title = self.title[lang]
        foreign = bool(self.title_lang) and self.title_lang != lang
        if markup:
            title = html.escape(title)
            if foreign:
                title = f'<span lang="{self.title_lang}">{title}</span>'
        if foreign:  # the publication's own title, in its language: say which, in the reader's
            title += " " + self.language_note(lang)
        out = text("cite.format", lang, publisher=self.publisher[lang], title=title,
                   medium=medium[:1].upper() + medium[1:])
        return f"{out} {self.url}" if self.url else out


def _lang_map(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str):
        return dict.fromkeys(LANGS, value)
    if isinstance(value, dict) and all(isinstance(value.get(lang), str) and value.get(lang) for lang in LANGS):
        return {lang: value[lang] for lang in LANGS}
    raise CitationError(f"{where}: give a text, or a text for each of {', '.join(LANGS)}")


@dataclass(frozen=True)
class Citations:
    """The citations and what they cover."""

    by_id: dict[str, Citation]
    files: dict[str, str]
    keys: dict[str, str]


@functools.cache
def load_citations(path: Path | None = None) -> Citations:
    """Read and check the citations file (default ``data/raw/sources/citations.yml``)."""
    if path is None:
        path, _prov = open_raw(CITATIONS_FILE)
    else:
        read_provenance(path)
    data = safe_load_file(path)
    if not isinstance(data, dict) or data.get("format") != "kuntalib.citations/1":
        raise CitationError(f"{path}: not a kuntalib.citations/1 file")
    by_id = {}
    for cid, c in (data.get("citations") or {}).items():
        where = f"{path}: citations.{cid}"
        if not isinstance(c, dict):
            raise CitationError(f"{where}: must be a mapping")
        by_id[str(cid)] = Citation(str(cid), _lang_map(c.get("publisher"), f"{where}.publisher"),
                                   _lang_map(c.get("title"), f"{where}.title"), _lang_map(c.get("medium"), f"{where}.medium"),
                                   str(c.get("date") or ""), str(c.get("url") or ""),
                                   "" if isinstance(c.get("title"), dict) else str(c.get("title_lang") or ""))
    files = {str(k): str(v) for k, v in (data.get("files") or {}).items()}
    keys = {str(k): str(v) for k, v in (data.get("keys") or {}).items()}
    for section, mapping in (("files", files), ("keys", keys)):
        for k, v in mapping.items():
            if v not in by_id:
                raise CitationError(f"{path}: {section}.{k} names citation {v!r}, which is not defined")
    return Citations(by_id, files, keys)


def _rel(target: Provenance | Path | str) -> str:
    p = target.path if isinstance(target, Provenance) else Path(target)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(paths.data_raw().resolve()).as_posix()
        except ValueError:
            raise CitationError(f"{p}: not a file under data/raw, so it has no citation") from None
    return p.as_posix()


def citation_for(target: Provenance | Path | str) -> Citation:
    """The citation of a raw file (its provenance, absolute path or path under data/raw)."""
    rel = _rel(target)
    cits = load_citations()
    if rel not in cits.files:
        raise CitationError(f"data/raw/{rel}: no public citation in data/raw/{CITATIONS_FILE} (add it under 'files')")
    return cits.by_id[cits.files[rel]]


def cite(target: Provenance | Path | str, lang: str, *, markup: bool = False) -> str:
    """The public citation of a raw file in ``lang`` (see :meth:`Citation.text`)."""
    return citation_for(target).text(lang, markup=markup)


def cite_key(target: Provenance | Path | str, key: str, lang: str, *, markup: bool = False) -> str | None:
    """The public citation of source ``key`` of an indicator file, or None if the citations file has none."""
    cits = load_citations()
    cid = cits.keys.get(f"{_rel(target)}#{key}")
    return cits.by_id[cid].text(lang, markup=markup) if cid else None
