"""Seeded, vectorised simulator of home-measurement streams (SYNTHETIC data).

A cohort of home-care clients gets devices from four synthetic vendors; each
device measures on a schedule, each client keeps to it with their own
adherence and may drop out; physiology follows simple documented models; and
faults are injected at known rates so that the ingest and quality report can
be checked against the truth.

Physiology (per client *i*, time *t* in days, hour of day *h*):

* systolic BP = b_i + d_i·t/7 + 5·cos(2π(h−8)/24) − treatment + ε, b_i ~ N(142, 14),
  d_i ~ N(0.2, 0.3) mmHg/week; treated clients (``share_treated``) start at a random
  day T_i and lose ``treatment_effect``·(1 − exp(−(t−T_i)/7)) mmHg; ε ~ N(0, 7);
* diastolic = 85 + 0.45·(systolic − 142) + N(0, 5);
* heart rate = N(72, 9) per client + 4·cos(2π(h−16)/24) + N(0, 5);
* SpO2 = min(99, N(95.5, 1.5)) per client + N(0, 1), capped at 100;
* temperature = 36.7 + 0.3·cos(2π(h−18)/24) + N(0, 0.25), plus 1.5 °C during fever
  episodes;
* weight = N(78, 15) + N(0, 0.1) kg/week + N(0, 0.4), plus 2.5 kg fluid gain over 3 days
  in some heart-failure clients (``share_fluid``);
* glucose (diabetic clients): log-normal around N(8, 1.5) mmol/L, higher in the
  evening; CGM every 15 minutes as a meal-driven curve with AR(1) noise.

Adherence: each client measures on a given day with probability p_i ~ Beta(6, 1.5)
and drops out after an exponential time with daily hazard ``dropout_hazard``.

Faults (``fault`` column of the truth table): ``duplicate`` (a resource sent
twice), ``clock_drift`` (a device's clock runs ahead 30–120 s a day),
``missing_timezone`` (vendor D omits the UTC offset), ``late_arrival`` (sent 1–5
days later), ``wrong_unit`` (glucose in mg/dL labelled mmol/L), ``implausible``
(physically impossible value), ``absent_component`` (diastolic missing with
dataAbsentReason).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kuntalib.i18n import Msg
from kuntalib.yamlsafe import YamlError, safe_load_file

__all__ = ["CohortConfig", "CohortConfigError", "Cohort", "load_cohort_config", "simulate_cohort", "VENDORS", "DEVICE_TYPES", "FAULTS"]

#: Synthetic vendors and how each writes FHIR (see :mod:`kuntalib.fhir.resources`).
VENDORS: dict[str, dict[str, object]] = {
    "vendor_a": {"name": "Synteettinen toimittaja A", "coding": "loinc", "time": "local", "devices": ("bp_monitor", "scale")},
    "vendor_b": {"name": "Synteettinen toimittaja B", "coding": "mdc_first", "time": "utc_ms", "devices": ("oximeter", "thermometer")},
    "vendor_c": {"name": "Synteettinen toimittaja C", "coding": "loinc", "time": "local", "devices": ("glucometer", "cgm")},
    "vendor_d": {"name": "Synteettinen toimittaja D", "coding": "loinc_synonym_units", "time": "local_sometimes_naive",
                 "devices": ("bp_monitor", "scale")},
}
DEVICE_TYPES = {
    "bp_monitor": Msg("fhir.simulate.device_types.bp_monitor"),
    "scale": Msg("fhir.simulate.device_types.scale"),
    "oximeter": Msg("fhir.simulate.device_types.oximeter"),
    "thermometer": Msg("fhir.simulate.device_types.thermometer"),
    "glucometer": Msg("fhir.simulate.device_types.glucometer"),
    "cgm": Msg("fhir.simulate.device_types.cgm"),
}
FAULTS = ("duplicate", "clock_drift", "missing_timezone", "late_arrival", "wrong_unit", "implausible", "absent_component")


@dataclass(frozen=True)
class CohortConfig:
    """Settings of a simulated cohort (validated; all rates are per measurement unless named otherwise)."""

    n_clients: int = 150
    days: int = 84
    start: str = "2024-01-08"
    timezone: str = "Europe/Helsinki"
    share_vendor_d: float = 0.3
    share_oximeter: float = 0.5
    share_thermometer: float = 0.3
    share_diabetic: float = 0.25
    share_cgm: float = 0.2
    share_treated: float = 0.3
    treatment_effect: float = 12.0
    share_fluid: float = 0.1
    dropout_hazard: float = 0.003
    cgm_minutes: int = 15
    p_duplicate: float = 0.01
    p_drift_device: float = 0.1
    p_naive_time: float = 0.3
    p_late: float = 0.02
    p_wrong_unit: float = 0.02
    p_implausible: float = 0.002
    p_absent_component: float = 0.003
    p_mg_dl: float = 0.3
    extra: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_clients < 1 or self.days < 1:
            raise ValueError("n_clients and days must be at least 1")
        for k, v in asdict(self).items():
            if (k.startswith("p_") or k.startswith("share_")) and not 0 <= v <= 1:
                raise ValueError(f"{k} = {v} must lie between 0 and 1")
        if self.cgm_minutes < 1 or 1440 % self.cgm_minutes:
            raise ValueError("cgm_minutes must divide a day (1440 minutes)")


class CohortConfigError(ValueError):
    """A simulator settings file that does not fit (names the file)."""


def load_cohort_config(path: str | Path, *, n_clients: int = 0, days: int = 0) -> tuple[CohortConfig, int]:
    """Read the simulator settings file; return the validated config and the seed.

    The file must say ``synthetic: true`` and hold ``seed`` and a ``cohort`` mapping of
    :class:`~kuntalib.fhir.simulate.CohortConfig` fields. ``n_clients`` and ``days``
    override the file's values when not 0.

    Raises
    ------
    CohortConfigError
        (a ValueError) The file is not YAML, is not marked synthetic, lacks ``seed``/``cohort`` or names an
        unknown setting; the message names the file.
    """
    path = Path(path)
    try:
        raw = safe_load_file(path)
    except YamlError as exc:  # names the file and the place
        raise CohortConfigError(str(exc)) from exc
    if not isinstance(raw, dict) or raw.get("synthetic") is not True:
        raise CohortConfigError(f"{path}: simulator settings must say 'synthetic: true'")
    if not isinstance(raw.get("seed"), int) or not isinstance(raw.get("cohort"), dict):
        raise CohortConfigError(f"{path}: needs an integer 'seed' and a 'cohort' mapping")
    settings = dict(raw["cohort"])
    known = set(CohortConfig.__dataclass_fields__)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise CohortConfigError(f"{path}: cohort: unknown setting(s) {', '.join(unknown)}")
    if n_clients:
        settings["n_clients"] = n_clients
    if days:
        settings["days"] = days
    try:
        return CohortConfig(**settings), raw["seed"]
    except (TypeError, ValueError) as exc:
        raise CohortConfigError(f"{path}: cohort: {exc}") from exc


@dataclass(frozen=True)
class Cohort:
    """A simulated cohort: clients, devices and the truth table of every measurement sent.

    ``measurements`` has one row per resource sent (duplicates included): obs_no, client,
    device, vendor, device_type, measure, time_utc (true time), device_time_utc (what the
    device's clock said), issued_utc (arrival), value, value2 (diastolic for BP), unit,
    naive_time, fault, duplicate_of.
    """

    config: CohortConfig
    seed: int
    clients: pd.DataFrame
    devices: pd.DataFrame
    measurements: pd.DataFrame
    id_seed: int = 0


def _uuid(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).astype(np.uint64)
    out = []
    for hi, lo in raw:
        h = f"{int(hi):016x}{int(lo):016x}"
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}")
    return out


def _clients(cfg: CohortConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.n_clients
    diabetic = rng.random(n) < cfg.share_diabetic
    return pd.DataFrame(
        {
            "client": _uuid(rng, n),
            "birth_year": rng.integers(1930, 1960, n),
            "sex": rng.choice(["female", "male"], n, p=[0.6, 0.4]),
            "adherence": rng.beta(6, 1.5, n),
            "dropout_day": np.minimum(rng.exponential(1 / max(cfg.dropout_hazard, 1e-9), n), 10 * cfg.days),
            "sbp_base": rng.normal(142, 14, n),
            "sbp_drift": rng.normal(0.2, 0.3, n),
            "treated": rng.random(n) < cfg.share_treated,
            "treatment_day": rng.uniform(14, max(15, cfg.days - 14), n),
            "hr_base": rng.normal(72, 9, n),
            "spo2_base": np.minimum(99, rng.normal(95.5, 1.5, n)),
            "weight_base": rng.normal(78, 15, n).clip(40, 180),
            "weight_drift": rng.normal(0, 0.1, n),
            "fluid": rng.random(n) < cfg.share_fluid,
            "fluid_day": rng.uniform(7, max(8, cfg.days - 7), n),
            "fever_day": np.where(rng.random(n) < 0.15, rng.uniform(0, cfg.days, n), -1e9),
            "diabetic": diabetic,
            "cgm": diabetic & (rng.random(n) < cfg.share_cgm),
            "glucose_base": rng.normal(8, 1.5, n).clip(5, 14),
            "oximeter": rng.random(n) < cfg.share_oximeter,
            "thermometer": rng.random(n) < cfg.share_thermometer,
            "vendor_bp": np.where(rng.random(n) < cfg.share_vendor_d, "vendor_d", "vendor_a"),
        }
    )


def _devices(cl: pd.DataFrame, cfg: CohortConfig, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for i, c in enumerate(cl.itertuples()):
        rows.append((i, c.vendor_bp, "bp_monitor"))
        rows.append((i, c.vendor_bp, "scale"))
        if c.oximeter:
            rows.append((i, "vendor_b", "oximeter"))
        if c.thermometer:
            rows.append((i, "vendor_b", "thermometer"))
        if c.diabetic:
            rows.append((i, "vendor_c", "cgm" if c.cgm else "glucometer"))
    dev = pd.DataFrame(rows, columns=["client_no", "vendor", "device_type"])
    dev["device"] = _uuid(rng, len(dev))
    dev["client"] = cl["client"].to_numpy()[dev["client_no"]]
    drift = rng.random(len(dev)) < cfg.p_drift_device
    dev["drift_s_per_day"] = np.where(drift, rng.uniform(30, 120, len(dev)), 0.0)
    return dev


def _schedule(dev: pd.DataFrame, cl: pd.DataFrame, kind: str, times_h: list[float], jitter_h: float, cfg: CohortConfig,
              rng: np.random.Generator, extra_p: float = 1.0) -> pd.DataFrame:
    """Measurement times of every device of ``kind``: days × slots, thinned by adherence and drop-out."""
    d = dev[dev["device_type"] == kind]
    if d.empty:
        return pd.DataFrame()
    n_dev, n_day, n_slot = len(d), cfg.days, len(times_h)
    ci = d["client_no"].to_numpy()
    day = np.broadcast_to(np.arange(n_day)[None, :, None], (n_dev, n_day, n_slot))
    hour = np.broadcast_to(np.asarray(times_h)[None, None, :], (n_dev, n_day, n_slot)) + rng.normal(0, jitter_h, (n_dev, n_day, n_slot))
    adherence = cl["adherence"].to_numpy()[ci][:, None, None]
    active = day < cl["dropout_day"].to_numpy()[ci][:, None, None]
    day_ok = rng.random((n_dev, n_day, 1)) < adherence * extra_p
    keep = active & day_ok & np.ones((1, 1, n_slot), bool)
    idx = np.nonzero(keep)
    return pd.DataFrame({"dev_row": d.index.to_numpy()[idx[0]], "client_no": ci[idx[0]], "t_day": day[idx] + hour[idx] / 24.0,
                         "hour": hour[idx] % 24})


def _cgm_schedule(dev: pd.DataFrame, cl: pd.DataFrame, cfg: CohortConfig, rng: np.random.Generator) -> pd.DataFrame:
    d = dev[dev["device_type"] == "cgm"]
    if d.empty:
        return pd.DataFrame()
    per_day = 1440 // cfg.cgm_minutes
    n = cfg.days * per_day
    t = np.arange(n) / per_day
    rows = []
    for r in d.itertuples():
        end = min(cfg.days, cl.at[r.client_no, "dropout_day"])
        worn = t < end
        rows.append(pd.DataFrame({"dev_row": r.Index, "client_no": r.client_no, "t_day": t[worn], "hour": (t[worn] % 1) * 24}))
    return pd.concat(rows, ignore_index=True)


def _cos(hour: np.ndarray, peak: float) -> np.ndarray:
    return np.cos(2 * np.pi * (hour - peak) / 24)


def _values(kind: str, s: pd.DataFrame, cl: pd.DataFrame, cfg: CohortConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Measured values of one device kind: one output frame per measure."""
    from scipy.signal import lfilter  # imported here: scipy.signal costs seconds at notebook start

    c = cl.iloc[s["client_no"].to_numpy()]
    t, h, n = s["t_day"].to_numpy(), s["hour"].to_numpy(), len(s)
    out = []
    if kind == "bp_monitor":
        since = np.maximum(0, t - c["treatment_day"].to_numpy())
        effect = np.where(c["treated"].to_numpy(), cfg.treatment_effect * (1 - np.exp(-since / 7)), 0)
        sbp = c["sbp_base"].to_numpy() + c["sbp_drift"].to_numpy() * t / 7 + 5 * _cos(h, 8) - effect + rng.normal(0, 7, n)
        dbp = 85 + 0.45 * (sbp - 142) + rng.normal(0, 5, n)
        hr = c["hr_base"].to_numpy() + 4 * _cos(h, 16) + rng.normal(0, 5, n)
        out.append(s.assign(measure="bp_panel", value=np.round(sbp), value2=np.round(dbp), unit="mm[Hg]"))
        out.append(s.assign(measure="heart_rate", value=np.round(hr), value2=np.nan, unit="/min"))
    elif kind == "scale":
        fluid = np.where(c["fluid"].to_numpy(), 2.5 * np.clip((t - c["fluid_day"].to_numpy()) / 3, 0, 1), 0)
        w = c["weight_base"].to_numpy() + c["weight_drift"].to_numpy() * t / 7 + fluid + rng.normal(0, 0.4, n)
        out.append(s.assign(measure="weight", value=np.round(w, 1), value2=np.nan, unit="kg"))
    elif kind == "oximeter":
        spo2 = np.minimum(100, c["spo2_base"].to_numpy() + rng.normal(0, 1, n))
        hr = c["hr_base"].to_numpy() + 4 * _cos(h, 16) + rng.normal(0, 5, n)
        out.append(s.assign(measure="spo2_pulse", value=np.round(spo2), value2=np.nan, unit="%"))
        out.append(s.assign(measure="heart_rate", value=np.round(hr), value2=np.nan, unit="/min"))
    elif kind == "thermometer":
        fever = np.where((t >= c["fever_day"].to_numpy()) & (t < c["fever_day"].to_numpy() + 3), 1.5, 0)
        temp = 36.7 + 0.3 * _cos(h, 18) + fever + rng.normal(0, 0.25, n)
        out.append(s.assign(measure="temperature", value=np.round(temp, 1), value2=np.nan, unit="Cel"))
    elif kind == "glucometer":
        g = np.exp(np.log(c["glucose_base"].to_numpy()) + 0.15 * (h > 14) + rng.normal(0, 0.18, n))
        mg = rng.random(n) < cfg.p_mg_dl
        value = np.where(mg, np.round(g * 18.016), np.round(g, 1))
        out.append(s.assign(measure="glucose_meter", value=value, value2=np.nan, unit=np.where(mg, "mg/dL", "mmol/L")))
    elif kind == "cgm":
        meals = sum(2.0 * np.exp(-(((h - m) % 24) / 1.2)) * (((h - m) % 24) < 4) for m in (8, 13, 19))
        noise = np.zeros(n)
        for _dev, idx in s.groupby("dev_row").indices.items():
            noise[idx] = lfilter([1.0], [1.0, -0.95], rng.normal(0, 0.12, len(idx)))
        g = np.clip(c["glucose_base"].to_numpy() - 1 + meals + noise, 2.2, 25)
        out.append(s.assign(measure="glucose_cgm", value=np.round(g, 1), value2=np.nan, unit="mmol/L"))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def _faults(m: pd.DataFrame, dev: pd.DataFrame, cfg: CohortConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = len(m)
    m["uid"] = np.arange(n)
    m["fault"] = ""
    drift = dev["drift_s_per_day"].to_numpy()[m["dev_row"].to_numpy()]
    m["device_t_day"] = m["t_day"] + drift * m["t_day"] / 86400.0
    m.loc[drift > 0, "fault"] = "clock_drift"
    delay = rng.exponential(5, n) / 1440.0  # minutes to days
    late = rng.random(n) < cfg.p_late
    delay[late] = rng.uniform(1, 5, late.sum())
    m["issued_t_day"] = m["t_day"] + delay
    m.loc[late & (m["fault"] == ""), "fault"] = "late_arrival"
    naive = (m["vendor"] == "vendor_d").to_numpy() & (rng.random(n) < cfg.p_naive_time)
    m["naive_time"] = naive
    m.loc[naive & (m["fault"] == ""), "fault"] = "missing_timezone"
    free = (m["fault"] == "").to_numpy()
    wrong = free & (m["measure"] == "glucose_meter").to_numpy() & (m["unit"] == "mmol/L").to_numpy() & (rng.random(n) < cfg.p_wrong_unit)
    if wrong.any():
        m.loc[wrong, "value"] = np.round(m.loc[wrong, "value"] * 18.016)
    m.loc[wrong, "fault"] = "wrong_unit"
    free = (m["fault"] == "").to_numpy()
    bad = free & (rng.random(n) < cfg.p_implausible)
    impossible = {"bp_panel": 400.0, "heart_rate": 0.0, "spo2_pulse": 127.0, "weight": 0.0, "temperature": 12.0,
                  "glucose_meter": 99.0, "glucose_cgm": 0.0}
    if bad.any():
        m.loc[bad, "value"] = m.loc[bad, "measure"].map(impossible).to_numpy(dtype=float)
    m.loc[bad & (m["measure"] == "glucose_meter").to_numpy(), "unit"] = "mmol/L"  # impossible in the unit it is sent in
    m.loc[bad, "fault"] = "implausible"
    free = (m["fault"] == "").to_numpy()
    absent = free & (m["measure"] == "bp_panel").to_numpy() & (rng.random(n) < cfg.p_absent_component)
    m.loc[absent, "value2"] = np.nan
    m.loc[absent, "fault"] = "absent_component"
    m["duplicate_of"] = -1
    free = (m["fault"] == "").to_numpy()
    dup = np.nonzero(free & (rng.random(n) < cfg.p_duplicate))[0]
    copies = m.iloc[dup].copy()
    copies["duplicate_of"] = copies["uid"]
    copies["fault"] = "duplicate"
    copies["issued_t_day"] = copies["issued_t_day"] + rng.uniform(0.01, 0.5, len(copies))
    return pd.concat([m, copies], ignore_index=True)


def simulate_cohort(config: CohortConfig | None = None, rng: int | np.random.Generator | None = 0) -> Cohort:
    """Simulate a cohort: clients, their devices and every measurement they send (SYNTHETIC).

    Parameters
    ----------
    config
        Cohort settings; defaults to :class:`CohortConfig()`.
    rng
        Seed or generator; the same seed gives the same cohort, byte for byte once written.
    """
    cfg = config or CohortConfig()
    seed = rng if isinstance(rng, int) else -1
    rng = np.random.default_rng(rng)
    cl = _clients(cfg, rng)
    dev = _devices(cl, cfg, rng)
    plans = {
        "bp_monitor": ([7.5, 20.0], 0.5, 1.0),
        "scale": ([7.25], 0.25, 1.0),
        "oximeter": ([10.0], 1.0, 1.0),
        "thermometer": ([9.0], 1.0, 0.5),
        "glucometer": ([8.0, 18.0], 0.5, 1.0),
    }
    parts = []
    for kind in DEVICE_TYPES:
        s = _cgm_schedule(dev, cl, cfg, rng) if kind == "cgm" else _schedule(dev, cl, kind, *plans[kind][:2], cfg, rng, plans[kind][2])
        if not s.empty:
            parts.append(_values(kind, s, cl, cfg, rng))
    m = pd.concat(parts, ignore_index=True)
    m["device"] = dev["device"].to_numpy()[m["dev_row"]]
    m["vendor"] = dev["vendor"].to_numpy()[m["dev_row"]]
    m["device_type"] = dev["device_type"].to_numpy()[m["dev_row"]]
    m["client"] = cl["client"].to_numpy()[m["client_no"]]
    m = m.sort_values(["t_day", "dev_row", "measure"], kind="stable").reset_index(drop=True)
    m = _faults(m, dev, cfg, rng)
    start = pd.Timestamp(cfg.start).tz_localize(cfg.timezone).tz_convert("UTC")
    for col, src in (("time_utc", "t_day"), ("device_time_utc", "device_t_day"), ("issued_utc", "issued_t_day")):
        m[col] = (start + pd.to_timedelta(m[src] * 86400, unit="s")).dt.floor("s")
    m = m.sort_values(["issued_utc"], kind="stable").reset_index(drop=True)
    m.insert(0, "obs_no", np.arange(len(m)))
    originals = m[m["fault"] != "duplicate"].set_index("uid")["obs_no"]
    dup = m["fault"] == "duplicate"
    m.loc[dup, "duplicate_of"] = originals.loc[m.loc[dup, "duplicate_of"]].to_numpy()
    cols = ["obs_no", "client", "device", "vendor", "device_type", "measure", "time_utc", "device_time_utc", "issued_utc",
            "value", "value2", "unit", "naive_time", "fault", "duplicate_of"]
    return Cohort(cfg, seed, cl, dev.drop(columns="client_no"), m[cols], int(rng.integers(0, 2**62)))
