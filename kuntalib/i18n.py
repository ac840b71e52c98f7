"""Languages and the translation catalogue: Finnish first, then Swedish and English.

Every text kuntalib shows a reader (chart titles, captions, notebook prose, printed
summaries, table headers, the site) comes from one gettext catalogue per language,
``kuntalib/locale/<lang>/LC_MESSAGES/kuntalib.po``, managed with Babel. Message ids are
symbolic keys (``fhir.charts.title.adherence``); the template ``kuntalib/locale/kuntalib.pot``
lists them with the Finnish text as a translator's note. To add a text: add it to the
template, run ``make catalog`` (``pybabel update``) and fill in each language's ``msgstr``.
``tests/test_i18n.py`` fails while a key lacks a language.

Texts may hold ``str.format`` fields (``{year}``); every language must use the same fields.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["LANGS", "DOMAIN", "LOCALES", "check_lang", "pick", "LangText", "Msg", "text", "messages",
           "catalogue_dir", "check_catalogue", "fields"]

LANGS: tuple[str, ...] = ("fi", "sv", "en")
DOMAIN = "kuntalib"
#: CLDR locale of each language, for numbers and dates (Babel).
LOCALES: dict[str, str] = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}

#: A text in each language, e.g. ``{"fi": "Asukasluku", "sv": "Folkmängd", "en": "Population"}``.
LangText = Mapping[str, str]


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is one of fi, sv, en; raise ``ValueError`` otherwise."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def pick(labels: LangText | str, lang: str) -> str:
    """The label in ``lang``, falling back to Finnish; a plain text is the same in every language."""
    check_lang(lang)
    if isinstance(labels, str):
        return labels
    return labels.get(lang) or labels["fi"]


def catalogue_dir() -> Path:
    """The folder holding ``kuntalib.pot`` and ``<lang>/LC_MESSAGES/kuntalib.po``."""
    return Path(__file__).resolve().parent / "locale"


@functools.cache
def messages(lang: str) -> dict[str, str]:
    """All translated messages of ``lang``: key -> text (empty translations left out)."""
    from babel.messages.pofile import read_po

    check_lang(lang)
    path = catalogue_dir() / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=LOCALES[lang], domain=DOMAIN)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def fields(message: str) -> set[str]:
    """The ``str.format`` field names used in ``message``."""
    import string

    return {name for _lit, name, _spec, _conv in string.Formatter().parse(message) if name is not None}


def check_catalogue(root: Path | None = None) -> list[str]:
    """Problems of the catalogue under ``root`` (default: the package's): one line each, empty when sound.

    Every key of the template must have a non-empty, non-fuzzy text in every language, no
    language may have a key the template lacks, and every language must use the same fields.
    """
    from babel.messages.pofile import read_po

    root = root or catalogue_dir()
    problems: list[str] = []
    with (root / f"{DOMAIN}.pot").open("rb") as fh:
        template = {str(m.id) for m in read_po(fh) if m.id}
    texts: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        path = root / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=LOCALES[lang])
        have = {str(m.id): m for m in catalog if m.id}
        for key in sorted(template - set(have)):
            problems.append(f"{path}: no entry for {key!r}")
        for key in sorted(set(have) - template):
            problems.append(f"{path}: {key!r} is not in {DOMAIN}.pot")
        for key, m in sorted(have.items()):
            if not m.string:
                problems.append(f"{path}: {key!r} has no {lang} text")
            elif m.fuzzy:
                problems.append(f"{path}: {key!r} is fuzzy (check the {lang} text)")
            else:
                texts.setdefault(key, {})[lang] = str(m.string)
    for key, by_lang in sorted(texts.items()):
        used = {lang: fields(t) for lang, t in by_lang.items()}
        if len({frozenset(f) for f in used.values()}) > 1:
            problems.append(f"{key!r}: languages use different fields {used}")
    return problems


def text(key: str, lang: str, /, **fields: Any) -> str:
    """The catalogue's text ``key`` in ``lang``, with ``fields`` filled in (``str.format``).

    Raises
    ------
    KeyError
        If the catalogue of ``lang`` has no text for ``key`` (never falls back to another language).
    """
    try:
        msg = messages(lang)[key]
    except KeyError:
        raise KeyError(f"no {lang} text for {key!r} in {catalogue_dir() / lang / 'LC_MESSAGES' / (DOMAIN + '.po')}") from None
    return msg.format(**fields) if fields else msg


class Msg(Mapping[str, str]):
    """One catalogue key seen as a text per language (``Msg("x")["sv"]``), for code that takes a ``LangText``."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __getitem__(self, lang: str) -> str:
        if lang not in LANGS:
            raise KeyError(lang)
        return text(self.key, lang)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGS)

    def __len__(self) -> int:
        return len(LANGS)

    def __repr__(self) -> str:
        return f"Msg({self.key!r})"
