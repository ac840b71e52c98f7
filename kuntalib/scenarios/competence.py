"""Competence profiles (osaamisprofiilit): skills by job level and skill type.

::

    format: kuntalib.competence/1
    id: vs_maritime_vakaa_2030
    scenario: vakaa                  # id of the scenario the profile belongs to
    year: 2030
    title: {fi: ..., sv: ..., en: ...}
    skill_types: [{id: generic, label: {...}}, ...]     # display order
    levels: [{id: management, label: {...}}, ...]        # display order
    skills: {foresight: {type: generic, label: {...}}, ...}
    profile: {management: [foresight, digital, ...], ...}

Every skill named under ``profile`` must be defined under ``skills``; every
level under ``profile`` must be one of ``levels``. Errors name the file and place.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kuntalib.i18n import check_lang, pick
from kuntalib.scenarios.model import ForesightModel, ScenarioFileError, _Checker, read_yaml

__all__ = ["COMPETENCE_FORMAT", "CompetenceProfile", "load_profile", "parse_profile", "skill_matrix", "level_overlap",
           "shared_skills", "type_counts"]

COMPETENCE_FORMAT = "kuntalib.competence/1"


@dataclass(frozen=True)
class CompetenceProfile:
    """A validated competence profile (see the module docstring)."""

    path: Path
    id: str
    scenario: str
    year: int
    title: dict[str, str]
    synthetic: bool
    skill_types: tuple[tuple[str, dict[str, str]], ...]
    levels: tuple[tuple[str, dict[str, str]], ...]
    skills: dict[str, tuple[str, dict[str, str]]]
    profile: dict[str, tuple[str, ...]]


def parse_profile(data: Any, path: str | Path = "<memory>", model: ForesightModel | None = None) -> CompetenceProfile:
    """Validate a parsed competence document; with ``model``, its scenario must exist there."""
    c = _Checker(Path(path))
    data = c.mapping(data, "top level")
    if data.get("format") != COMPETENCE_FORMAT:
        c.fail("format", f"expected {COMPETENCE_FORMAT!r}, got {data.get('format')!r}")
    types = [(c.ident(t.get("id"), f"skill_types[{i}]"), c.labels(t.get("label"), f"skill_types[{i}].label"))
             for i, t in enumerate(c.seq(data.get("skill_types"), "skill_types"))]
    levels = [(c.ident(t.get("id"), f"levels[{i}]"), c.labels(t.get("label"), f"levels[{i}].label"))
              for i, t in enumerate(c.seq(data.get("levels"), "levels"))]
    c.unique([t for t, _ in types], "skill_types")
    c.unique([lv for lv, _ in levels], "levels")
    type_ids = {t for t, _ in types}
    skills: dict[str, tuple[str, dict[str, str]]] = {}
    for sid, raw in c.mapping(data.get("skills"), "skills").items():
        c.ident(sid, f"skills.{sid}")
        raw = c.mapping(raw, f"skills.{sid}")
        if raw.get("type") not in type_ids:
            c.fail(f"skills.{sid}", f"unknown skill type {raw.get('type')!r} (known: {', '.join(sorted(type_ids))})")
        skills[sid] = (raw["type"], c.labels(raw.get("label"), f"skills.{sid}.label"))
    profile: dict[str, tuple[str, ...]] = {}
    level_ids = [lv for lv, _ in levels]
    for lv, names in c.mapping(data.get("profile"), "profile").items():
        if lv not in level_ids:
            c.fail(f"profile.{lv}", f"unknown level {lv!r} (known: {', '.join(level_ids)})")
        for k, name in enumerate(c.seq(names, f"profile.{lv}")):
            if name not in skills:
                c.fail(f"profile.{lv}[{k}]", f"unknown skill {name!r}: define it under 'skills'")
        if len(set(names)) != len(names):
            c.fail(f"profile.{lv}", "a skill is listed twice")
        profile[lv] = tuple(names)
    scenario = data.get("scenario")
    if model is not None and scenario not in {s.id for s in model.scenarios}:
        c.fail("scenario", f"unknown scenario {scenario!r} of model {model.id!r}")
    return CompetenceProfile(
        path=Path(path), id=c.ident(data.get("id"), "id"), scenario=str(scenario), year=int(data.get("year") or 0),
        title=c.labels(data.get("title"), "title"), synthetic=bool(data.get("synthetic", False)),
        skill_types=tuple(types), levels=tuple(levels), skills=skills, profile=profile,
    )


def load_profile(path: str | Path, model: ForesightModel | None = None) -> CompetenceProfile:
    """Read and validate a competence-profile YAML file."""
    return parse_profile(read_yaml(path), path, model)


def skill_matrix(profile: CompetenceProfile, lang: str = "fi") -> pd.DataFrame:
    """Skills × levels (True where the level's profile names the skill).

    Rows are ordered by skill type, then by how many levels share the skill (most
    first), then by first appearance; index columns: type, skill_id, skill.
    """
    check_lang(lang)
    order = {t: i for i, (t, _) in enumerate(profile.skill_types)}
    first = {}
    for names in profile.profile.values():
        for n in names:
            first.setdefault(n, len(first))
    level_ids = [lv for lv, _ in profile.levels]
    rows = []
    for sid in first:
        typ, label = profile.skills[sid]
        row = {"type": pick(dict(profile.skill_types)[typ], lang), "skill_id": sid, "skill": pick(label, lang)}
        row.update({lv: sid in profile.profile.get(lv, ()) for lv in level_ids})
        rows.append((order[typ], -sum(row[lv] for lv in level_ids), first[sid], row))
    rows.sort(key=lambda r: r[:3])
    return pd.DataFrame([r[3] for r in rows]).set_index(["type", "skill_id", "skill"])


def level_overlap(profile: CompetenceProfile, skill_type: str | None = None) -> pd.DataFrame:
    """Jaccard overlap of the skill sets of every two levels (1 = same skills).

    With ``skill_type``, only skills of that type count.
    """
    if skill_type is not None and skill_type not in dict(profile.skill_types):
        raise ScenarioFileError(f"{profile.path}: unknown skill type {skill_type!r}")
    sets = {
        lv: {s for s in profile.profile.get(lv, ()) if skill_type is None or profile.skills[s][0] == skill_type}
        for lv, _ in profile.levels
    }
    ids = list(sets)
    out = pd.DataFrame(1.0, index=ids, columns=ids)
    for a, b in itertools.combinations(ids, 2):
        union = sets[a] | sets[b]
        out.loc[a, b] = out.loc[b, a] = len(sets[a] & sets[b]) / len(union) if union else float("nan")
    return out


def shared_skills(profile: CompetenceProfile, lang: str = "fi", min_levels: int = 2) -> pd.DataFrame:
    """Skills named at ``min_levels`` or more levels, with the levels (most shared first)."""
    m = skill_matrix(profile, lang)
    counts = m.sum(axis=1)
    keep = m[counts >= min_levels]
    labels = dict(profile.levels)
    return pd.DataFrame(
        {
            "type": keep.index.get_level_values("type"),
            "skill": keep.index.get_level_values("skill"),
            "n_levels": counts[counts >= min_levels].to_numpy(),
            "levels": [", ".join(pick(labels[lv], lang) for lv in keep.columns if r[lv]) for _, r in keep.iterrows()],
        }
    ).sort_values("n_levels", ascending=False, kind="stable").reset_index(drop=True)


def type_counts(profile: CompetenceProfile, lang: str = "fi") -> pd.DataFrame:
    """Number of skills per level (rows) and skill type (columns)."""
    labels = dict(profile.skill_types)
    data = {
        pick(labels[t], lang): [sum(profile.skills[s][0] == t for s in profile.profile.get(lv, ())) for lv, _ in profile.levels]
        for t, _ in profile.skill_types
    }
    return pd.DataFrame(data, index=[pick(lab, lang) for _, lab in profile.levels])
