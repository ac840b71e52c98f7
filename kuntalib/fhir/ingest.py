"""Ingest FHIR NDJSON or Bundles into a tidy, patient-bucketed Parquet dataset, in bounded memory.

Two phases:

1. **Parse** (streaming): files are cut into byte ranges at line ends; each range is
   read ``chunk_lines`` lines at a time, every line parsed by
   :class:`~kuntalib.fhir.parse.ObservationParser`, times converted to UTC for the whole
   chunk at once, and the rows written to ``stage/bucket=K/`` by a stable hash of the
   patient. Ranges run in parallel processes when ``workers > 1``.
2. **Deduplicate** (bucket by bucket): duplicates always share a patient, so each
   bucket is deduplicated on its own — by (patient, identifier) (same content:
   ``duplicate``, other content: ``identifier_conflict``) and by content
   (``duplicate_content``); the earlier line wins. Identifiers are checked per
   patient, so the result does not depend on the number of buckets.

Memory is bounded by ``chunk_lines`` in phase 1 and by the largest bucket in phase 2;
the number of buckets grows with the input (``rows_per_bucket``), so neither depends
on the file size. Every line ends up accepted (its rows in ``observations/``) or
rejected (in ``rejects.parquet`` with line, reason, detail and the first
``max_raw_chars`` characters of the line): accepted + rejected = lines read.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kuntalib.fhir.parse import REASONS, ROW_FIELDS, IngestOptions, ObservationParser, Reject

__all__ = ["IngestResult", "ingest_ndjson", "ingest_bundles", "load_devices", "plan_ranges", "TIDY_SCHEMA", "REJECT_SCHEMA",
           "read_observations", "finalize_bucket", "parse_range", "parse_bundle"]

TIDY_SCHEMA = pa.schema([
    ("source", pa.string()), ("line", pa.int64()), ("observation_id", pa.string()), ("identifier", pa.string()),
    ("patient", pa.string()), ("device", pa.string()), ("vendor", pa.string()), ("device_type", pa.string()),
    ("time_utc", pa.timestamp("us", tz="UTC")), ("time_precision", pa.string()), ("tz_assumed", pa.bool_()),
    ("period_end_utc", pa.timestamp("us", tz="UTC")), ("issued_utc", pa.timestamp("us", tz="UTC")), ("panel", pa.string()),
    ("code", pa.string()), ("value", pa.float64()), ("unit", pa.string()), ("comparator", pa.string()),
    ("absent_reason", pa.string()), ("unit_translated", pa.bool_()), ("catalogued", pa.bool_()), ("synthetic", pa.bool_()),
    ("content_hash", pa.int64()),
])
REJECT_SCHEMA = pa.schema([
    ("source", pa.string()), ("line", pa.int64()), ("reason", pa.string()), ("detail", pa.string()), ("vendor", pa.string()),
    ("raw", pa.string()),
])


@dataclass
class IngestResult:
    """Where the tidy data went and what was rejected.

    ``lines`` = ``accepted`` + ``rejected``; ``rows`` counts tidy rows (a blood-pressure
    panel gives two). ``rejects`` holds source, line, reason, detail, vendor, raw.
    """

    out_dir: Path
    lines: int
    accepted: int
    rejected: int
    rows: int
    rejects: pd.DataFrame = field(repr=False)
    buckets: int = 1

    @property
    def observations_dir(self) -> Path:
        return self.out_dir / "observations"

    def by_reason(self) -> pd.Series:
        """Rejected lines per reason code."""
        return self.rejects["reason"].value_counts().sort_index()

    def summary(self) -> str:
        lines = [f"{self.lines} lines: {self.accepted} accepted ({self.rows} rows), {self.rejected} rejected"]
        lines += [f"  {k}: {v} ({REASONS.get(k, '')})" for k, v in self.by_reason().items()]
        return "\n".join(lines)

    def read(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The tidy observations as one DataFrame (fine for a cohort; use Dask for a nation)."""
        return read_observations(self.out_dir, columns)


def read_observations(out_dir: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read the tidy Parquet dataset an ingest wrote under ``out_dir``."""
    table = pq.read_table(Path(out_dir) / "observations", columns=columns, schema=TIDY_SCHEMA.append(pa.field("bucket", pa.int32()))
                          if columns is None else None)
    df = table.to_pandas()
    return df.drop(columns=[c for c in ("bucket", "content_hash") if c in df.columns and (columns is None or c not in columns)])


def load_devices(paths: Iterable[str | Path]) -> dict[str, tuple[str, str]]:
    """Device id -> (vendor, device type) from Device NDJSON files (vendor from the identifier system or manufacturer)."""
    out: dict[str, tuple[str, str]] = {}
    for path in paths:
        with open(path, "rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                d = orjson.loads(raw)
                if d.get("resourceType") != "Device":
                    continue
                systems = [i.get("system", "") for i in d.get("identifier", [])]
                vendor = next((s.rsplit(":", 1)[-1] for s in systems if s.startswith("urn:kuntalib:vendor:")), None)
                out[d["id"]] = (vendor or d.get("manufacturer") or "unknown", (d.get("type") or {}).get("text") or "unknown")
    return out


def plan_ranges(path: str | Path, target_bytes: int = 64 << 20) -> list[tuple[int, int, int]]:
    """Cut a file into (start, end, first_line) byte ranges that end at line ends."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as fh:
        pos = target_bytes
        while pos < size:
            fh.seek(pos)
            fh.readline()
            nxt = fh.tell()
            if nxt >= size:
                break
            cuts.append(nxt)
            pos = nxt + target_bytes
        cuts.append(size)
        first, line = [], 1
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            first.append(line)
            fh.seek(a)
            remaining, count = b - a, 0
            while remaining > 0:
                block = fh.read(min(16 << 20, remaining))
                if not block:
                    break
                count += block.count(b"\n")
                remaining -= len(block)
            line += count
    return [(a, b, f) for a, b, f in zip(cuts[:-1], cuts[1:], first, strict=True) if b > a]


def _bucket_of(patients: pd.Series, buckets: int) -> np.ndarray:
    return (pd.util.hash_array(patients.to_numpy(dtype=object)) % np.uint64(buckets)).astype(np.int32)


def _to_utc(text: pd.Series, kind: pd.Series, assume: str | None) -> pd.Series:
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    aware = kind == "tz"
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], utc=True, format="ISO8601", errors="coerce")
    local = ~aware & text.notna()
    if local.any():
        naive = pd.to_datetime(text[local], format="ISO8601", errors="coerce")
        out[local] = naive.dt.tz_localize(assume or "UTC", ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
    return out


class _Sink:
    """Collects rows and rejects of one work unit and writes them per chunk."""

    def __init__(self, source: str, stage: Path, tag: str, buckets: int, options: IngestOptions) -> None:
        self.source, self.stage, self.tag, self.buckets, self.options = source, stage, tag, buckets, options
        self.rows: list[tuple] = []
        self.rejects: list[tuple] = []
        self.chunk = 0
        self.lines = 0
        self.accepted_lines = 0
        self.n_rows = 0

    def reject(self, line: int, exc: Reject, raw: bytes, vendor: str = "unknown") -> None:
        text = raw[: self.options.max_raw_chars * 4].decode("utf-8", "replace")[: self.options.max_raw_chars]
        self.rejects.append((self.source, line, exc.code, exc.detail, vendor, text.rstrip("\n")))

    def flush(self) -> None:
        if not self.rows:
            return
        df = pd.DataFrame.from_records(self.rows, columns=ROW_FIELDS)
        self.rows = []
        df["time_utc"] = _to_utc(df["effective"], df["tz"], self.options.assume_timezone)
        bad = df["time_utc"].isna()
        if bad.any():
            for line, eff, vendor in df.loc[bad, ["line", "effective", "vendor"]].drop_duplicates("line").itertuples(index=False):
                self.rejects.append((self.source, int(line), "bad_time", f"effective {eff!r}", vendor, ""))
            bad_lines = set(df.loc[bad, "line"])
            df = df[~df["line"].isin(bad_lines)]
            self.accepted_lines -= len(bad_lines)
        df["period_end_utc"] = pd.to_datetime(df["period_end"], utc=True, format="ISO8601", errors="coerce")
        df["issued_utc"] = pd.to_datetime(df["issued"], utc=True, format="ISO8601", errors="coerce")
        df["time_precision"] = np.where(df["tz"] == "date", "day", "second")
        df["tz_assumed"] = df["tz"] == "naive"
        df["source"] = self.source
        df["bucket"] = _bucket_of(df["patient"], self.buckets)
        self.n_rows += len(df)
        table = pa.Table.from_pandas(df[[*TIDY_SCHEMA.names, "bucket"]], preserve_index=False)
        for b, part in df.groupby("bucket", sort=True).indices.items():
            d = self.stage / f"bucket={b:05d}"
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.take(part).drop_columns(["bucket"]).cast(TIDY_SCHEMA),
                           d / f"part-{self.tag}-{self.chunk:05d}.parquet")
        self.chunk += 1

    def feed(self, parser: ObservationParser, items: Iterable[tuple[int, bytes]]) -> None:
        for line, raw in items:
            if not raw.strip():
                continue
            self.lines += 1
            try:
                self.rows.extend(parser.parse(raw, line))
                self.accepted_lines += 1
            except Reject as exc:
                self.reject(line, exc, raw, _vendor_hint(raw))
            if len(self.rows) >= self.options.chunk_lines:
                self.flush()
        self.flush()

    def result(self) -> tuple[int, int, int, pd.DataFrame]:
        rej = pd.DataFrame.from_records(self.rejects, columns=REJECT_SCHEMA.names)
        return self.lines, self.accepted_lines, self.n_rows, rej


def _vendor_hint(raw: bytes) -> str:
    i = raw.find(b"urn:kuntalib:vendor:")
    if i < 0:
        return "unknown"
    j = raw.find(b'"', i)
    return raw[i + 20: j].decode("utf-8", "replace")


def _lines(path: Path, start: int, end: int, first_line: int) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as fh:
        fh.seek(start)
        line = first_line
        pos = start
        while pos < end:
            raw = fh.readline()
            if not raw:
                break
            pos += len(raw)
            yield line, raw
            line += 1


def parse_range(path: str, start: int, end: int, first_line: int, stage: str, tag: str, buckets: int,
                options: IngestOptions, devices: dict[str, tuple[str, str]]) -> tuple[int, int, int, pd.DataFrame]:
    """Phase 1 for one byte range of one NDJSON file: (lines, accepted, rows, rejects)."""
    sink = _Sink(Path(path).name, Path(stage), tag, buckets, options)
    sink.feed(ObservationParser(options, devices), _lines(Path(path), start, end, first_line))
    return sink.result()


class _Bundle(msgspec.Struct):
    resourceType: str
    entry: list[dict[str, msgspec.Raw]] = []


def parse_bundle(path: str, stage: str, tag: str, buckets: int, options: IngestOptions,
                 devices: dict[str, tuple[str, str]]) -> tuple[int, int, int, pd.DataFrame]:
    """Phase 1 for one Bundle file: each entry's resource counts as a line (its 1-based entry number)."""
    sink = _Sink(Path(path).name, Path(stage), tag, buckets, options)
    raw = Path(path).read_bytes()
    try:
        bundle = msgspec.json.decode(raw, type=_Bundle)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        sink.lines = 1
        sink.reject(0, Reject("invalid_json", f"not a Bundle: {exc}"), raw)
        return sink.result()
    sink.feed(ObservationParser(options, devices),
              ((i + 1, bytes(e["resource"]) if "resource" in e else b'{"resourceType": null}') for i, e in enumerate(bundle.entry)))
    return sink.result()


def finalize_bucket(stage_bucket: str, out_file: str) -> tuple[int, pd.DataFrame]:
    """Phase 2 for one bucket: drop duplicate lines (earlier line wins), write the bucket; (rows kept, rejects)."""
    df = pq.read_table(stage_bucket, schema=TIDY_SCHEMA).to_pandas()
    df = df.sort_values(["source", "line"], kind="stable")
    lines = df.drop_duplicates(["source", "line"])[["source", "line", "patient", "identifier", "content_hash", "vendor"]]
    reasons: dict[tuple[str, int], tuple[str, str]] = {}
    with_id = lines[lines["identifier"].notna()]
    dup_id = with_id.duplicated(["patient", "identifier"], keep="first")
    if dup_id.any():
        first = with_id[~dup_id].set_index(["patient", "identifier"])
        for r in with_id[dup_id].itertuples(index=False):
            f = first.loc[(r.patient, r.identifier)]
            same = f.content_hash == r.content_hash
            reasons[(r.source, r.line)] = ("duplicate" if same else "identifier_conflict", f"first at {f.source} line {f.line}")
    rest = lines[~lines.set_index(["source", "line"]).index.isin(list(reasons))]
    dup_c = rest.duplicated("content_hash", keep="first")
    if dup_c.any():
        first = rest[~dup_c].drop_duplicates("content_hash").set_index("content_hash")
        for r in rest[dup_c].itertuples(index=False):
            f = first.loc[r.content_hash]
            reasons[(r.source, r.line)] = ("duplicate_content", f"first at {f.source} line {f.line}")
    vendor = dict(zip(zip(lines["source"], lines["line"], strict=True), lines["vendor"], strict=True))
    rej = pd.DataFrame([(s, ln, code, detail, vendor[(s, ln)], "") for (s, ln), (code, detail) in reasons.items()],
                       columns=REJECT_SCHEMA.names)
    if reasons:
        drop = pd.MultiIndex.from_tuples(list(reasons))
        df = df[~df.set_index(["source", "line"]).index.isin(drop)]
    df = df.sort_values(["patient", "time_utc", "code", "source", "line"], kind="stable")
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False, schema=TIDY_SCHEMA), out_file)
    return len(df), rej


def _run(tasks: list[tuple], fn, workers: int) -> list:
    if workers <= 1 or len(tasks) <= 1:
        return [fn(*t) for t in tasks]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, *zip(*tasks, strict=True)))


def _buckets_for(total_bytes: int, rows_per_bucket: int) -> int:
    est_lines = max(1, total_bytes // 700)
    return int(max(1, min(4096, -(-est_lines // rows_per_bucket))))


def _ingest(kind: str, paths: list[Path], out_dir: Path, options: IngestOptions, devices: dict[str, tuple[str, str]],
            workers: int, range_bytes: int, rows_per_bucket: int) -> IngestResult:
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    stage = out_dir / "stage"
    stage.mkdir(parents=True)
    buckets = _buckets_for(sum(os.path.getsize(p) for p in paths), rows_per_bucket)
    if kind == "ndjson":
        tasks = [(str(p), a, b, f, str(stage), f"{i:04d}-{j:04d}", buckets, options, devices)
                 for i, p in enumerate(paths) for j, (a, b, f) in enumerate(plan_ranges(p, range_bytes))]
        results = _run(tasks, parse_range, workers)
    else:
        tasks = [(str(p), str(stage), f"{i:04d}", buckets, options, devices) for i, p in enumerate(paths)]
        results = _run(tasks, parse_bundle, workers)
    lines = sum(r[0] for r in results)
    rejects = [r[3] for r in results]
    bucket_dirs = sorted(stage.glob("bucket=*"))
    final = _run([(str(d), str(out_dir / "observations" / d.name / "part-0.parquet")) for d in bucket_dirs],
                 finalize_bucket, workers)
    rows = sum(f[0] for f in final)
    rejects += [f[1] for f in final]
    rej = pd.concat([r for r in rejects if len(r)], ignore_index=True) if any(len(r) for r in rejects) else \
        pd.DataFrame(columns=REJECT_SCHEMA.names)
    rej = rej.sort_values(["source", "line"], kind="stable").reset_index(drop=True)
    pq.write_table(pa.Table.from_pandas(rej, preserve_index=False, schema=REJECT_SCHEMA), out_dir / "rejects.parquet")
    shutil.rmtree(stage)
    n_rej = rej[["source", "line"]].drop_duplicates().shape[0]
    return IngestResult(out_dir, lines, lines - n_rej, n_rej, rows, rej, buckets)


def ingest_ndjson(paths: str | Path | Iterable[str | Path], out_dir: str | Path, *, options: IngestOptions | None = None,
                  devices: dict[str, tuple[str, str]] | None = None, workers: int = 1, range_bytes: int = 64 << 20,
                  rows_per_bucket: int = 500_000) -> IngestResult:
    """Ingest Observation NDJSON files (see module docstring). ``devices`` maps device ids to (vendor, type)."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return _ingest("ndjson", paths, Path(out_dir), options or IngestOptions(), devices or {}, workers, range_bytes,
                   rows_per_bucket)


def ingest_bundles(paths: str | Path | Iterable[str | Path], out_dir: str | Path, *, options: IngestOptions | None = None,
                   devices: dict[str, tuple[str, str]] | None = None, workers: int = 1,
                   rows_per_bucket: int = 500_000) -> IngestResult:
    """Ingest Bundle JSON files; each entry counts as a line numbered by its position."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return _ingest("bundle", paths, Path(out_dir), options or IngestOptions(), devices or {}, workers, 0, rows_per_bucket)
