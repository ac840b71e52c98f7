"""The part of a style sheet that some page uses: the site ships JupyterLab's CSS without what no page needs.

nbconvert's page style is JupyterLab's whole style sheet (about 250 kB: widgets, menus, dialogs,
the dark theme). :func:`used_css` keeps

* every rule with a selector that matches an element of at least one page (selectors are read by
  tinycss2 and matched by soupsieve, Beautiful Soup's selector engine); a state the page takes only
  when read (``:hover``, ``:focus``, ...) or a pseudo-element (``::before``) is matched by its
  element, a selector with such a state inside ``:is()``, ``:where()`` or ``:has()`` is kept, and a
  selector soupsieve cannot read is kept;
* every ``@media``, ``@supports``, ``@layer``, ``@container`` (...) block with such a rule, and every other
  at-rule whole (``@page``, ``@font-face``, ``@keyframes``, ``@property``, ...);
* of the custom properties (``--jp-...``), those a kept rule or a page's own style (its ``<style>``
  elements, ``style`` attributes) reads with ``var()``, directly or through another property.

The same sheet and pages give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import soupsieve
import tinycss2
from bs4 import BeautifulSoup

__all__ = ["used_css"]

#: Pseudo-classes of a state a reader gives an element, and the pseudo-elements CSS 2 wrote with one colon (matched by
#: the element alone).
_STATES = frozenset({"before", "after", "first-line", "first-letter", "hover", "focus", "focus-visible", "focus-within",
                     "active", "visited", "target", "target-within", "link", "any-link", "placeholder-shown", "autofill",
                     "user-invalid", "user-valid", "checked", "indeterminate", "open", "closed", "popover-open", "modal",
                     "fullscreen", "valid", "invalid", "default", "playing", "paused"})
#: At-rules holding rules: kept with the rules of theirs that some page uses. Any other at-rule is kept whole.
_BLOCKS = frozenset({"media", "supports", "layer", "container", "scope", "starting-style", "document"})


def _selectors(prelude: list) -> list[list]:
    """A rule's prelude as its selectors (token lists), split at the commas outside brackets."""
    out: list[list] = [[]]
    for tok in prelude:
        if tok.type == "literal" and tok.value == ",":
            out.append([])
        else:
            out[-1].append(tok)
    return out


def _pseudo(tokens: list, i: int) -> tuple[str, int] | None:
    """At a ``:`` in ``tokens[i]``: (the pseudo-class's lowercased name, or ``"::"`` for a pseudo-element, and how many
    tokens it spans) when it is a pseudo-element or a reader's state (:data:`_STATES`, a vendor's ``:-moz-...``);
    else None."""
    tok = tokens[i]
    if not (tok.type == "literal" and tok.value == ":") or i + 1 >= len(tokens):
        return None
    nxt = tokens[i + 1]
    if nxt.type == "literal" and nxt.value == ":":
        return "::", 3
    name = nxt.lower_value if nxt.type == "ident" else nxt.lower_name if nxt.type == "function" else ""
    return (name, 2) if name in _STATES or name.startswith("-") else None


def _nested_state(tokens: list) -> bool:
    """Whether a pseudo-element or a reader's state stands inside a function of ``tokens`` (``:is(.a:hover)``)."""
    return any(tok.type == "function" and (any(_pseudo(tok.arguments, i) for i in range(len(tok.arguments)))
                                           or _nested_state(tok.arguments)) for tok in tokens)


def _combinator(tok: Any) -> bool:
    return tok.type == "whitespace" or (tok.type == "literal" and tok.value in (">", "+", "~"))


def _names(tokens: list) -> list[tuple[str, str]]:
    """The classes and ids a selector's ``tokens`` name outside brackets: ``("class", name)``, ``("id", name)``."""
    return [("class", tok.value) if tok.type == "ident" else ("id", tok.value)
            for before, tok in zip([None, *tokens[:-1]], tokens, strict=True)
            if tok.type == "hash" or (tok.type == "ident" and before is not None and before.type == "literal"
                                      and before.value == ".")]


def _matchable(tokens: list) -> str:
    """A selector without its pseudo-elements and reader-state pseudo-classes, as text for soupsieve; a compound
    that was only those is ``*`` (``.a > :hover span`` is ``.a > * span``, ``::before`` is ``*``)."""
    kept: list = []
    i = 0
    while i < len(tokens):
        found = _pseudo(tokens, i)
        if found:
            i += found[1]
            if (not kept or _combinator(kept[-1])) and (i >= len(tokens) or _combinator(tokens[i])):
                kept.append(tinycss2.ast.LiteralToken(0, 0, "*"))
            continue
        kept.append(tokens[i])
        i += 1
    return tinycss2.serialize(kept).strip() or "*"


class _Pages:
    """The pages as soupsieve reads them, and the classes and ids they use (a selector that names a class no page
    uses is known to match nothing without looking)."""

    def __init__(self, pages: Iterable[str]) -> None:
        self.soups = [BeautifulSoup(page, "html.parser") for page in pages]
        #: Every element of the pages, and those of each class, id and tag name: a selector is tried only on the
        #: elements its last compound could be (the whole sheet against every element of every page took seconds).
        self.elements = [tag for soup in self.soups for tag in soup.find_all(True)]
        self.by_key: dict[tuple[str, str], list] = {}
        for tag in self.elements:
            keys = [("tag", tag.name), *(("class", c) for c in tag.get("class", ()))]
            for key in keys + [("id", tag["id"])] if tag.get("id") is not None else keys:
                self.by_key.setdefault(key, []).append(tag)
        #: The custom properties the pages' own styles read (nbconvert's code colours are a ``<style>`` of the page).
        self.reads: set[str] = set()
        for soup in self.soups:
            for style in soup.find_all("style"):
                for rule in tinycss2.parse_stylesheet(style.get_text(), skip_comments=True):
                    self.reads |= _var_names(getattr(rule, "content", None) or ())
            for tag in soup.find_all(style=True):
                self.reads |= _var_names(tinycss2.parse_component_value_list(tag["style"]))

    def _may_match(self, tokens: list) -> bool:
        return all(key in self.by_key for key in _names(tokens))

    def used(self, prelude: list) -> bool:
        """Whether a selector of a rule's ``prelude`` matches an element of some page (or cannot be read)."""
        for tokens in _selectors(prelude):
            if not self._may_match(tokens):
                continue
            if _nested_state(tokens):
                return True  # a reader's state inside :is() and the like: soupsieve would call it never matched
            text = _matchable(tokens)
            try:
                compiled = soupsieve.compile(text)
            except (soupsieve.SelectorSyntaxError, NotImplementedError, ValueError):
                return True  # a selector soupsieve cannot read: kept
            if ":scope" in text.lower() or "&" in text:  # where the search starts (``&`` is ``:scope``): from each page's top
                if any(compiled.select_one(soup) is not None for soup in self.soups):
                    return True
            elif any(compiled.match(tag) for tag in self._candidates(tokens)):
                return True
        return False

    def _candidates(self, tokens: list) -> list:
        """The elements a selector's subject can be: those with a class or id, else of the tag name, its last
        compound selector names (every element when it names none)."""
        while tokens and tokens[-1].type == "whitespace":
            tokens = tokens[:-1]
        last = len(tokens)
        while last and not _combinator(tokens[last - 1]):
            last -= 1
        compound = tokens[last:]
        if any(tok.type == "literal" and tok.value == "|" for tok in compound):  # a namespace: not looked up
            return self.elements
        keys = _names(compound)
        if compound and compound[0].type == "ident":
            keys.append(("tag", compound[0].lower_value))
        return self.by_key.get(keys[0], []) if keys else self.elements


def _rules(nodes: Iterable, pages: _Pages) -> list[tuple]:
    """The rules of ``nodes`` some page uses: ``(rule, None)``, or ``(block, [its used rules])`` for ``@media``
    and ``@supports``, or ``(at-rule, None)`` for the other at-rules kept."""
    kept: list[tuple] = []
    for node in nodes:
        if node.type == "qualified-rule" and pages.used(node.prelude):
            kept.append((node, None))
        elif node.type == "at-rule" and node.lower_at_keyword in _BLOCKS and node.content is not None:
            inner = _rules(tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True), pages)
            if inner:
                kept.append((node, inner))
        elif node.type == "at-rule":
            kept.append((node, None))
    return kept


def _contents(content: list) -> list:
    """The declarations and nested rules of a block's ``content`` (comments and white space left out)."""
    return tinycss2.parse_blocks_contents(content, skip_comments=True, skip_whitespace=True)


def _declarations(rules: list[tuple]) -> Iterable:
    """Every declaration of the qualified rules of ``rules``, in blocks too, and of the at-rules kept whole
    (``@page``, ``@font-face``; a ``@keyframes``' keyframes)."""
    for node, inner in rules:
        if inner is not None:
            yield from _declarations(inner)
        elif node.content is not None:
            for part in _contents(node.content):
                if part.type == "declaration":
                    yield part
                elif part.type == "qualified-rule":  # a keyframe
                    yield from (d for d in _contents(part.content) if d.type == "declaration")


def _var_names(tokens: Iterable) -> set[str]:
    """The custom properties ``tokens`` read with ``var()`` (nested ones included)."""
    names: set[str] = set()
    for tok in tokens:
        if tok.type == "function":
            if tok.lower_name == "var":
                names |= {t.value for t in tok.arguments if t.type == "ident" and t.value.startswith("--")}
            names |= _var_names(tok.arguments)
        elif tok.type in ("() block", "[] block", "{} block"):
            names |= _var_names(tok.content)
    return names


def _text(rules: list[tuple], needed: set[str]) -> str:
    """``rules`` as CSS, one a line, with only the ``needed`` custom properties."""
    out = []
    for node, inner in rules:
        if inner is not None:
            body = _text(inner, needed)
            if body:
                out.append(f"@{node.at_keyword}{tinycss2.serialize(node.prelude)}{{\n{body}}}\n")
        elif node.type == "at-rule":
            out.append(tinycss2.serialize([node]) + "\n")
        else:
            decls = _contents(node.content)
            unread = [d for d in decls if d.type == "declaration" and d.name.startswith("--") and d.name not in needed]
            if not unread:
                out.append(tinycss2.serialize([node]) + "\n")
                continue
            # what a browser reads of the rule (it skips a declaration it cannot parse), less the unread properties
            decls = [d for d in decls if d.type != "error" and d not in unread]
            if decls:
                body = "".join(tinycss2.serialize([d]).rstrip(";") + ";" for d in decls)
                out.append(f"{tinycss2.serialize(node.prelude).strip()}{{{body}}}\n")
    return "".join(out)


def used_css(css: str, pages: Iterable[str]) -> str:
    """The rules of style sheet ``css`` that some page of ``pages`` (HTML texts) uses (see the module's text).

    Parameters
    ----------
    css
        The style sheet.
    pages
        The HTML of every page that links it.

    Returns
    -------
    str
        The kept rules, one a line, each as tinycss2 writes it.
    """
    site = _Pages(pages)
    rules = _rules(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True), site)
    declared: dict[str, list] = {}
    needed: set[str] = set(site.reads)
    for d in _declarations(rules):
        if d.name.startswith("--"):
            declared.setdefault(d.name, []).append(d.value)
        else:
            needed |= _var_names(d.value)
    todo = list(needed)
    while todo:  # a property read by a needed property is needed
        new = set().union(*(_var_names(v) for v in declared.get(todo.pop(), []))) - needed
        needed |= new
        todo += new
    return _text(rules, needed)
