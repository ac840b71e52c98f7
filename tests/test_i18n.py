"""The translation catalogue and locale formats."""

from __future__ import annotations

import ast
import json
import re
import shutil

import pytest

from kuntalib import paths, theme
from kuntalib.i18n import LANGS, Msg, catalogue_dir, check_catalogue, messages, text

ROOT = paths.proj_root()


def test_every_key_has_every_language():
    assert check_catalogue() == []


def test_a_missing_language_or_field_is_found(tmp_path):
    copy = tmp_path / "locale"
    shutil.copytree(catalogue_dir(), copy)
    sv = copy / "sv" / "LC_MESSAGES" / "kuntalib.po"
    po = sv.read_text(encoding="utf-8")
    po = po.replace('msgstr "Framtidstabell"', 'msgstr ""')
    po = po.replace("msgstr \"Årsbudget {year}", "msgstr \"Årsbudget {år}")
    sv.write_text(po, encoding="utf-8")
    problems = check_catalogue(copy)
    assert any("scenarios.charts.futures" in p and "no sv text" in p for p in problems), problems
    assert any("different fields" in p for p in problems), problems


def _literal_keys() -> set[str]:
    """Catalogue keys written as literals in the package and the notebooks."""
    keys: set[str] = set()
    sources = [(p, p.read_text(encoding="utf-8")) for p in (ROOT / "kuntalib").rglob("*.py")]
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        sources += [(nb, "".join(c["source"])) for c in cells if c["cell_type"] == "code" and "%" not in "".join(c["source"])]
    for path, src in sources:
        for node in ast.walk(ast.parse(src, filename=str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"Msg", "text", "show"}
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                keys.add(node.args[0].value)
    return keys


def test_every_key_the_code_uses_is_in_the_catalogue():
    used = _literal_keys()
    assert len(used) > 50
    missing = sorted(k for k in used if k not in messages("fi"))
    assert not missing, missing


def test_text_never_falls_back_to_another_language():
    with pytest.raises(KeyError, match="no sv text for 'no.such.key'"):
        text("no.such.key", "sv")
    assert Msg("theme.synthetic")["sv"] == "SYNTETISKA DATA"
    assert dict(Msg("theme.not_published")) == {"fi": "ei julkaistu", "sv": "inte publicerad", "en": "not published"}


@pytest.mark.parametrize(("lang", "expected"), [
    ("fi", ("58\u00a0%", "3\u00a0028", "20,25", "30.6.2022", "10–45\u00a0%", "−2")),
    ("sv", ("58\u00a0%", "3\u00a0028", "20,25", "30.6.2022", "10–45\u00a0%", "−2")),
    ("en", ("58%", "3,028", "20.25", "30 June 2022", "10–45%", "−2")),  # the true minus in every language
])
def test_locale_formats_from_cldr(lang, expected):
    got = (theme.fmt_pct(58, lang=lang), theme.fmt_num(3028, lang=lang), theme.fmt_num(20.25, 2, lang=lang),
           theme.fmt_date("2022-06-30", lang), theme.fmt_range(10, 45, lang=lang, percent=True), theme.fmt_num(-2, lang=lang))
    assert got == expected
    assert theme.fmt_num(float("nan"), lang=lang) == "–" and theme.fmt_num(-0.2, lang=lang) == "0"


def all_texts(lang: str) -> dict[str, str]:
    """Every text of ``lang`` a page may show: the code's catalogue and the notebooks' prose cells (``<notebook>:<cell>``)."""
    from kuntalib.pipeline.translate import SOURCE_LANG, read_catalogue, template

    texts = dict(messages(lang))
    for nb in sorted(paths.notebooks_dir().glob("*.ipynb")):
        cat = template(nb) if lang == SOURCE_LANG else read_catalogue(nb, lang)
        for m in cat or []:
            if m.id:
                texts[f"{nb.stem}:{m.locations[0][1]}"] = str(m.id if lang == SOURCE_LANG else m.string)
    return texts


def foreign_phrases(lang: str, *, min_len: int = 14) -> dict[str, str]:
    """Literal fragments of other languages' catalogue texts that ``lang``'s catalogue never uses.

    Fragments are split at format fields and Markdown punctuation; only those of at least
    ``min_len`` characters with a space count, so that names and codes shared by every
    language (``CGM``, ``n = {n}``) are not mistaken for foreign prose.
    """
    own = "\n".join(all_texts(lang).values())
    found: dict[str, str] = {}
    for other in LANGS:
        if other == lang:
            continue
        for key, msg in all_texts(other).items():
            for frag in re.split(r"\{[^}]*\}|[*_#`>\[\]()\n|]", msg):
                frag = frag.strip(" .,:;–-")
                if len(frag) >= min_len and " " in frag and frag not in own:
                    found.setdefault(frag, f"{other}:{key}")
    return found


def test_foreign_phrases_exist_for_every_language():
    for lang in LANGS:
        assert len(foreign_phrases(lang)) > 40
