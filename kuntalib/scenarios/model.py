"""The foresight-model file format (YAML): scenarios, key variables and a futures table.

::

    format: kuntalib.scenarios/1
    id: vs_maritime_2030
    synthetic: false                 # true for invented example sets
    title: {fi: ..., sv: ..., en: ...}
    horizon: 2030                    # optional: the year the scenarios describe, only where the source gives it
    source: "citation"
    score_scale: {description: {fi: ...}, min: -2, max: 2}
    sectors:                         # PESTE (or any grouping), in display order
      - {id: ecological, label: {fi: ekologinen, ...}}
    variables:                       # key variables (avainmuuttujat)
      - id: energy
        sector: economic
        label: {fi: ...}
        states:                      # the variable's possible future states
          - {id: shortage, score: -2, label: {fi: ...}}
    scenarios:
      - id: kituva
        name: {fi: Kituva Varsinais-Suomi}   # sv/en optional: a name given only in fi is a proper name in every language
        gloss: {sv: Tynande Egentliga Finland, en: Struggling Varsinais-Suomi}  # optional: the name's translation
        text: {fi: "full scenario text", sv: ..., en: ...}
        states:                      # the futures table (tulevaisuustaulukko) row
          energy: {state: shortage, quote: "sentence of text.fi it rests on"}
    consistency:                     # cross-consistency judgements, optional
      - {a: energy.shortage, b: climate_policy.targets_missed, value: 2,
         reason: {fi: ..., en: ...}}

A variable a scenario does not state is simply absent from its ``states``: the
futures table shows it as "not stated", never as a guessed state. Each quote
must occur in the scenario's Finnish text (whitespace-insensitive), so every
coded state can be checked against the source. Judgement values are integers
from −2 (inconsistent) to +2 (reinforcing); unlisted pairs are neutral.

Every error names the file and the place (``scenarios[1] (kituva).states.energy``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kuntalib.yamlsafe import MAX_BYTES, NoAliasLoader

__all__ = [
    "FORMAT",
    "ScenarioFileError",
    "State",
    "Variable",
    "Scenario",
    "Judgement",
    "ForesightModel",
    "load_model",
    "parse_model",
    "read_yaml",
    "normalise_space",
]

FORMAT = "kuntalib.scenarios/1"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


#: The score scale the format allows (the README's −2…+2); a file may use a narrower one.
SCORE_MIN, SCORE_MAX = -2, 2
#: Key variables one field may have (the cross-consistency field grows as the product of their states).
MAX_VARIABLES = 32


class ScenarioFileError(ValueError):
    """A foresight-model or competence file that does not fit its format (names file and place)."""


def normalise_space(text: str) -> str:
    """Collapse runs of white space to one space (quotes are compared this way)."""
    return " ".join(str(text).split())


@dataclass(frozen=True)
class State:
    """One possible future state of a key variable, with its score."""

    id: str
    score: int
    label: dict[str, str]


@dataclass(frozen=True)
class Variable:
    """A key variable (avainmuuttuja) in a PESTE sector, with its possible states."""

    id: str
    sector: str
    label: dict[str, str]
    states: tuple[State, ...]

    def state(self, state_id: str) -> State:
        """The state named ``state_id``."""
        for s in self.states:
            if s.id == state_id:
                return s
        raise KeyError(state_id)


@dataclass(frozen=True)
class Scenario:
    """A scenario: names, full texts and its state on each variable it states.

    ``gloss`` translates a name kept as a proper name (given in Finnish only) for sv and en: a page gives
    it once, where it first names the scenario (:func:`~kuntalib.scenarios.analysis.scenario_names`).
    """

    id: str
    name: dict[str, str]
    text: dict[str, str]
    states: dict[str, str]
    quotes: dict[str, str]
    gloss: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    """A cross-consistency judgement of two states of two different variables."""

    a: tuple[str, str]
    b: tuple[str, str]
    value: int
    reason: dict[str, str]


@dataclass(frozen=True)
class ForesightModel:
    """A validated foresight model (see the module docstring for the format)."""

    path: Path
    id: str
    title: dict[str, str]
    horizon: int | None
    source: str
    synthetic: bool
    sectors: tuple[tuple[str, dict[str, str]], ...]
    variables: tuple[Variable, ...]
    scenarios: tuple[Scenario, ...]
    judgements: tuple[Judgement, ...] = ()
    score_min: int = -2
    score_max: int = 2
    score_description: dict[str, str] = field(default_factory=dict)

    def variable(self, variable_id: str) -> Variable:
        """The variable named ``variable_id``."""
        for v in self.variables:
            if v.id == variable_id:
                return v
        raise KeyError(variable_id)

    def scenario(self, scenario_id: str) -> Scenario:
        """The scenario named ``scenario_id``."""
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        raise KeyError(scenario_id)

    def sector_label(self, sector_id: str) -> dict[str, str]:
        """The labels of sector ``sector_id``."""
        return dict(self.sectors)[sector_id]


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a syntax error names the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ScenarioFileError(f"{path}: larger than {MAX_BYTES} bytes")
    try:
        return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader that refuses aliases
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioFileError(f"{path}: malformed YAML: {where}{problem}") from exc


class _Checker:
    """Collects the file name so that every error says where it is."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> None:
        raise ScenarioFileError(f"{self.path}: {where}: {problem}")

    def mapping(self, obj: Any, where: str) -> dict[str, Any]:
        if not isinstance(obj, dict):
            self.fail(where, f"expected a mapping, got {type(obj).__name__}")
        return obj

    def seq(self, obj: Any, where: str) -> list[Any]:
        if not isinstance(obj, list) or not obj:
            self.fail(where, "expected a non-empty list")
        return obj

    def ident(self, obj: Any, where: str) -> str:
        if not isinstance(obj, str) or not _ID.match(obj):
            self.fail(where, f"id {obj!r} must be lower-case letters, digits and _")
        return obj

    def labels(self, obj: Any, where: str) -> dict[str, str]:
        obj = self.mapping(obj, where)
        if not isinstance(obj.get("fi"), str) or not obj["fi"].strip():
            self.fail(where, "needs a Finnish text (fi) first")
        bad = sorted(map(str, set(obj) - {"fi", "sv", "en"}))
        if bad:
            self.fail(where, f"unknown language {bad[0]!r} (fi, sv, en)")
        wrong = [k for k, v in obj.items() if not isinstance(v, str)]
        if wrong:
            self.fail(f"{where}.{wrong[0]}", f"expected text, got {type(obj[wrong[0]]).__name__}")
        return {k: normalise_space(v) for k, v in obj.items()}

    def unique(self, ids: list[str], where: str) -> None:
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                self.fail(where, f"duplicate id {i!r}")
            seen.add(i)


def _variables(c: _Checker, data: dict[str, Any], sectors: set[str], lo: int, hi: int) -> list[Variable]:
    out = []
    for i, raw in enumerate(c.seq(data.get("variables"), "variables")):
        where = f"variables[{i}]"
        raw = c.mapping(raw, where)
        vid = c.ident(raw.get("id"), where)
        where = f"variables[{i}] ({vid})"
        if raw.get("sector") not in sectors:
            c.fail(where, f"unknown sector {raw.get('sector')!r} (known: {', '.join(sorted(sectors))})")
        states = []
        for j, st in enumerate(c.seq(raw.get("states"), f"{where}.states")):
            sw = f"{where}.states[{j}]"
            st = c.mapping(st, sw)
            sid = c.ident(st.get("id"), sw)
            score = st.get("score")
            if isinstance(score, bool) or not isinstance(score, int) or not lo <= score <= hi:
                c.fail(f"{sw} ({sid})", f"score {score!r} must be an integer from {lo} to {hi}")
            states.append(State(sid, score, c.labels(st.get("label"), f"{sw} ({sid}).label")))
        c.unique([s.id for s in states], f"{where}.states")
        out.append(Variable(vid, raw["sector"], c.labels(raw.get("label"), f"{where}.label"), tuple(states)))
    c.unique([v.id for v in out], "variables")
    if len(out) > MAX_VARIABLES:
        c.fail("variables", f"{len(out)} key variables; at most {MAX_VARIABLES} can be assessed as one morphological field")
    return out


def _scenarios(c: _Checker, data: dict[str, Any], variables: dict[str, Variable]) -> list[Scenario]:
    out = []
    for i, raw in enumerate(c.seq(data.get("scenarios"), "scenarios")):
        where = f"scenarios[{i}]"
        raw = c.mapping(raw, where)
        sid = c.ident(raw.get("id"), where)
        where = f"scenarios[{i}] ({sid})"
        text = c.labels(raw.get("text"), f"{where}.text")
        states: dict[str, str] = {}
        quotes: dict[str, str] = {}
        for var_id, entry in c.mapping(raw.get("states") or {}, f"{where}.states").items():
            ew = f"{where}.states.{var_id}"
            if var_id not in variables:
                c.fail(ew, f"unknown variable {var_id!r} (known: {', '.join(variables)})")
            entry = c.mapping(entry, ew)
            state = entry.get("state")
            if state not in {s.id for s in variables[var_id].states}:
                known = ", ".join(s.id for s in variables[var_id].states)
                c.fail(ew, f"unknown state {state!r} of variable {var_id!r} (known: {known})")
            quote = entry.get("quote") or ""
            if not isinstance(quote, str):
                c.fail(ew, f"quote must be text, got {type(quote).__name__}")
            quote = normalise_space(quote)
            if not quote:
                c.fail(ew, "needs the quote from the scenario text that justifies the state")
            if quote not in text["fi"]:
                c.fail(ew, f"quote {quote[:60]!r} does not occur in the scenario's Finnish text")
            states[var_id], quotes[var_id] = state, quote
        gloss = c.mapping(raw["gloss"], f"{where}.gloss") if "gloss" in raw else {}
        bad = sorted(map(str, set(gloss) - {"sv", "en"}))
        if bad:
            c.fail(f"{where}.gloss", f"unknown language {bad[0]!r} (a gloss translates the Finnish name: sv, en)")
        if any(not isinstance(v, str) or not v.strip() for v in gloss.values()):
            c.fail(f"{where}.gloss", "expected a text for each language")
        out.append(Scenario(sid, c.labels(raw.get("name"), f"{where}.name"), text, states, quotes,
                            {k: normalise_space(v) for k, v in gloss.items()}))
    c.unique([s.id for s in out], "scenarios")
    return out


def _judgements(c: _Checker, data: dict[str, Any], variables: dict[str, Variable]) -> list[Judgement]:
    out = []
    seen: set[frozenset[tuple[str, str]]] = set()
    judged = data.get("consistency") or []
    if not isinstance(judged, list):
        c.fail("consistency", f"expected a list of judgements, got {type(judged).__name__}")
    for i, raw in enumerate(judged):
        where = f"consistency[{i}]"
        raw = c.mapping(raw, where)
        ends = []
        for key in ("a", "b"):
            ref = raw.get(key)
            if not isinstance(ref, str) or ref.count(".") != 1:
                c.fail(where, f"{key}: {ref!r} must be 'variable.state'")
            var_id, state = ref.split(".")
            if var_id not in variables:
                c.fail(where, f"{key}: unknown variable {var_id!r}")
            if state not in {s.id for s in variables[var_id].states}:
                c.fail(where, f"{key}: unknown state {state!r} of variable {var_id!r}")
            ends.append((var_id, state))
        if ends[0][0] == ends[1][0]:
            c.fail(where, "a and b must be states of two different variables")
        value = raw.get("value")
        if isinstance(value, bool) or value not in (-2, -1, 1, 2):
            c.fail(where, f"value {value!r} must be -2, -1, 1 or 2 (unlisted pairs are neutral)")
        key = frozenset(ends)
        if key in seen:
            c.fail(where, f"pair {raw['a']} / {raw['b']} judged twice")
        seen.add(key)
        out.append(Judgement(ends[0], ends[1], value, c.labels(raw.get("reason"), f"{where}.reason")))
    return out


def parse_model(data: Any, path: str | Path = "<memory>") -> ForesightModel:
    """Validate a parsed foresight-model document and build a :class:`ForesightModel`."""
    c = _Checker(Path(path))
    data = c.mapping(data, "top level")
    if data.get("format") != FORMAT:
        c.fail("format", f"expected {FORMAT!r}, got {data.get('format')!r}")
    known = {"format", "id", "synthetic", "title", "horizon", "source", "translations", "coding", "score_scale",
             "sectors", "variables", "scenarios", "consistency"}
    extra = sorted(set(data) - known)
    if extra:
        c.fail("top level", f"unknown key {extra[0]!r}")
    scale = c.mapping(data.get("score_scale") or {"min": -2, "max": 2}, "score_scale")
    lo, hi = scale.get("min", -2), scale.get("max", 2)
    if not (isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool) and not isinstance(hi, bool)
            and SCORE_MIN <= lo < 0 < hi <= SCORE_MAX):
        c.fail("score_scale", f"min must be a negative and max a positive integer within {SCORE_MIN}…+{SCORE_MAX}, "
                              f"got {lo!r}…{hi!r}")
    sectors = []
    for i, raw in enumerate(c.seq(data.get("sectors"), "sectors")):
        raw = c.mapping(raw, f"sectors[{i}]")
        sectors.append((c.ident(raw.get("id"), f"sectors[{i}]"), c.labels(raw.get("label"), f"sectors[{i}].label")))
    c.unique([s for s, _ in sectors], "sectors")
    variables = _variables(c, data, {s for s, _ in sectors}, lo, hi)
    by_id = {v.id: v for v in variables}
    scenarios = _scenarios(c, data, by_id)
    horizon = data.get("horizon")
    if horizon is not None and (not isinstance(horizon, int) or isinstance(horizon, bool)):
        c.fail("horizon", f"expected a year (or no horizon where the source gives none), got {horizon!r}")
    synthetic = data.get("synthetic", False)
    if not isinstance(synthetic, bool):
        c.fail("synthetic", f"expected true or false, got {synthetic!r}")
    return ForesightModel(
        path=Path(path),
        id=c.ident(data.get("id"), "id"),
        title=c.labels(data.get("title"), "title"),
        horizon=horizon,
        source=str(data.get("source") or ""),
        synthetic=synthetic,
        sectors=tuple(sectors),
        variables=tuple(variables),
        scenarios=tuple(scenarios),
        judgements=tuple(_judgements(c, data, by_id)),
        score_min=lo,
        score_max=hi,
        score_description=c.labels(scale["description"], "score_scale.description") if "description" in scale else {},
    )


def load_model(path: str | Path) -> ForesightModel:
    """Read and validate a foresight-model YAML file."""
    return parse_model(read_yaml(path), path)
