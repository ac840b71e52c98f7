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

import gc
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kuntalib.fhir.parse import LINE_FIELDS, REASONS, ROW_FIELDS, IngestOptions, ObservationParser, Reject

__all__ = ["IngestResult", "OBSERVATION_COLUMNS", "ingest_ndjson", "ingest_bundles", "local_runner", "Runner", "load_devices", "plan_ranges", "TIDY_SCHEMA", "REJECT_SCHEMA",
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
#: The columns a reader gets by default (the de-duplication hash is internal).
OBSERVATION_COLUMNS = [c for c in TIDY_SCHEMA.names if c != "content_hash"]
#: Low-cardinality columns worth dictionary-encoding in Parquet (ids and times are not).
_DICT_COLUMNS = ["source", "patient", "device", "vendor", "device_type", "time_precision", "panel", "code", "unit",
                 "comparator", "absent_reason"]
REJECT_SCHEMA = pa.schema([
    ("source", pa.string()), ("line", pa.int64()), ("reason", pa.string()), ("detail", pa.string()), ("vendor", pa.string()),
    ("device_type", pa.string()), ("raw", pa.string()),
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
    """Read the tidy Parquet dataset an ingest wrote under ``out_dir`` (default: :data:`OBSERVATION_COLUMNS`)."""
    table = pq.read_table(Path(out_dir) / "observations", columns=columns or OBSERVATION_COLUMNS, schema=TIDY_SCHEMA,
                          partitioning=None)
    return table.to_pandas()


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


def plan_ranges(path: str | Path, target_bytes: int = 64 << 20) -> list[tuple[int, int]]:
    """Cut a file into (start, end) byte ranges of about ``target_bytes`` that end at line ends.

    Line numbers are counted inside each range and shifted to file line numbers when
    the ranges are put together, so planning does not read the file.
    """
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
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def _bucket_of(patients: pd.Series, buckets: int) -> np.ndarray:
    return (pd.util.hash_array(patients.to_numpy(dtype=object)) % np.uint64(buckets)).astype(np.int32)


def _to_utc(strings: list, assume: str | None) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """UTC times of FHIR dateTime strings; (times, is_date_only, is_naive). Unparseable -> null.

    Times with an offset are cast by Arrow's ISO 8601 parser (pandas when a chunk holds an
    unparseable one); date-only and naive times are read in ``assume`` (UTC if None) by pandas,
    with DST-ambiguous and non-existent local times handled as pandas does (NaT, shift forward).
    """
    arr = pa.array(strings, pa.string())
    aware = pc.fill_null(pc.or_(pc.ends_with(arr, "Z"), pc.match_substring_regex(arr, r"[+-]\d\d:\d\d$")), False)
    aware_np = aware.to_numpy(zero_copy_only=False)
    date_only = pc.equal(pc.utf8_length(arr), 10).to_numpy(zero_copy_only=False)
    out = np.full(len(strings), np.datetime64("NaT"), dtype="datetime64[us]")  # UTC wall time
    if aware_np.any():
        sub = arr.filter(aware)
        try:
            out[aware_np] = pc.cast(sub, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out[aware_np] = pd.to_datetime(pd.Series(sub.to_pylist(), dtype=object), utc=True, format="ISO8601",
                                           errors="coerce").dt.tz_localize(None).to_numpy("datetime64[us]")
    local = ~aware_np
    if local.any():
        naive = pd.to_datetime(pd.Series(arr.filter(pa.array(local)).to_pylist(), dtype=object), format="ISO8601", errors="coerce")
        utc = naive.dt.tz_localize(assume or "UTC", ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
        out[local] = utc.dt.tz_localize(None).to_numpy("datetime64[us]")
    return pa.array(out, pa.timestamp("us", tz="UTC"), from_pandas=True), date_only, local & ~date_only


def _iso_utc(strings: list) -> pa.Array:
    """Optional timestamps with offsets (issued, period end) as UTC; null where absent or unparseable."""
    arr = pa.array(strings, pa.string())
    try:
        return pc.cast(arr, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array(pd.to_datetime(pd.Series(strings, dtype=object), utc=True, format="ISO8601", errors="coerce"),
                        pa.timestamp("us", tz="UTC"))


_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)


def _hash(values) -> np.ndarray:
    """A deterministic 64-bit hash of each string (FNV-1a over 8-byte words, vectorised).

    The same in every process and on every machine (unlike Python's ``hash``); ASCII
    strings (FHIR ids, codes, dateTimes) take the fast path, anything else pandas' hash.
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, np.uint64)
    try:
        a = np.array(values, dtype="S")
    except UnicodeEncodeError:
        return pd.util.hash_array(np.asarray(values, dtype=object))
    width = max(a.itemsize, 1)
    raw = a.view(np.uint8).reshape(n, a.itemsize) if a.itemsize else np.zeros((n, 1), np.uint8)
    if width % 8:
        raw = np.pad(raw, ((0, 0), (0, 8 - width % 8)))
    words = np.ascontiguousarray(raw).view(np.uint64)
    h = np.full(n, _FNV_OFFSET, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h = (h ^ words[:, j]) * _FNV_PRIME
        h ^= h >> np.uint64(29)
    return h


class _Sink:
    """Collects the columns and rejects of one work unit and writes them a chunk at a time."""

    def __init__(self, source: str, stage: Path, tag: str, buckets: int, options: IngestOptions) -> None:
        self.source, self.stage, self.tag, self.buckets, self.options = source, stage, tag, buckets, options
        self.rejects: list[tuple] = []
        self.chunk = 0
        self.lines = 0
        self.physical = 0
        self.n_rows = 0
        self._reset()

    def _reset(self) -> None:
        self.line_no: list[int] = []
        self.heads: list[tuple] = []
        self.values: list[tuple] = []
        self.row_line: list[int] = []

    def reject(self, line: int, exc: Reject, raw: bytes, sender: tuple[str, str] = ("unknown", "unknown")) -> None:
        text = raw[: self.options.max_raw_chars * 4].decode("utf-8", "replace")[: self.options.max_raw_chars]
        self.rejects.append((self.source, line, exc.code, exc.detail, *sender, text.rstrip("\n")))

    def feed(self, parser: ObservationParser, items: Iterable[tuple[int, bytes]]) -> None:
        """Parse every line; the cyclic garbage collector pauses meanwhile (the loop makes no cycles)."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._feed(parser, items)
        finally:
            if enabled:
                gc.enable()

    def _feed(self, parser: ObservationParser, items: Iterable[tuple[int, bytes]]) -> None:
        parse = parser.parse
        limit = self.options.chunk_lines
        line_no, heads, vals, row_line = self.line_no, self.heads, self.values, self.row_line
        line = n_lines = 0
        for line, raw in items:
            if not raw or raw.isspace():
                continue
            n_lines += 1
            try:
                head, values = parse(raw)
            except Reject as exc:
                self.reject(line, exc, raw, _sender_hint(raw, parser.devices))
                continue
            k = len(heads)
            line_no.append(line)
            heads.append(head)
            if len(values) == 1:
                vals.append(values[0])
                row_line.append(k)
            else:
                vals.extend(values)
                row_line.extend([k] * len(values))
            if k + 1 >= limit:
                self.flush()
                line_no, heads, vals, row_line = self.line_no, self.heads, self.values, self.row_line
        self.physical = max(self.physical, line)
        self.lines += n_lines
        self.flush()

    def flush(self) -> None:
        if not self.heads:
            return
        lc = dict(zip(LINE_FIELDS, [self.line_no, *zip(*self.heads, strict=True)], strict=True))
        rc = dict(zip(ROW_FIELDS, zip(*self.values, strict=True), strict=True))
        row_line = np.asarray(self.row_line, dtype=np.int64)
        self._reset()
        when, date_only, naive = _to_utc(list(lc["effective"]), self.options.assume_timezone)
        bad = when.is_null().to_numpy(zero_copy_only=False)
        for i in np.nonzero(bad)[0]:
            self.rejects.append((self.source, int(lc["line"][i]), "bad_time", f"effective {lc['effective'][i]!r}", lc["vendor"][i],
                                 lc["device_type"][i], ""))
        value = np.asarray(rc["value"], dtype=float)
        row_hash = (_hash(rc["code"]) * np.uint64(3) + pd.util.hash_array(value) * np.uint64(5)
                    + _hash(rc["absent_reason"]) * np.uint64(7))
        starts = np.searchsorted(row_line, np.arange(len(lc["line"])))
        line_hash = np.add.reduceat(row_hash, starts) if len(row_hash) else np.zeros(0, np.uint64)
        line_hash = line_hash + _hash(lc["patient"]) * np.uint64(11) + _hash(lc["effective"]) * np.uint64(13)
        keep_rows = ~bad[row_line]
        row_line = row_line[keep_rows]
        lines_tab = pa.table({
            "line": pa.array(lc["line"], pa.int64()), "observation_id": pa.array(lc["observation_id"], pa.string()),
            "identifier": pa.array(lc["identifier"], pa.string()), "patient": pa.array(lc["patient"], pa.string()),
            "device": pa.array(lc["device"], pa.string()), "vendor": pa.array(lc["vendor"], pa.string()),
            "device_type": pa.array(lc["device_type"], pa.string()),
            "time_utc": when,
            "time_precision": pa.array(np.where(date_only, "day", "second")), "tz_assumed": pa.array(naive),
            "period_end_utc": _iso_utc(list(lc["period_end"])),
            "issued_utc": _iso_utc(list(lc["issued"])),
            "synthetic": pa.array(lc["synthetic"], pa.bool_()),
            "content_hash": pa.array(line_hash.view(np.int64)),
        }).take(pa.array(row_line))
        mask = pa.array(keep_rows)
        table = pa.table({
            "source": pa.array([self.source] * len(row_line), pa.string()),
            **{n: lines_tab.column(n) for n in ("line", "observation_id", "identifier", "patient", "device", "vendor",
                                                "device_type", "time_utc", "time_precision", "tz_assumed", "period_end_utc",
                                                "issued_utc")},
            "panel": pa.array(rc["panel"], pa.string()).filter(mask), "code": pa.array(rc["code"], pa.string()).filter(mask),
            "value": pa.array(value).filter(mask), "unit": pa.array(rc["unit"], pa.string()).filter(mask),
            "comparator": pa.array(rc["comparator"], pa.string()).filter(mask),
            "absent_reason": pa.array(rc["absent_reason"], pa.string()).filter(mask),
            "unit_translated": pa.array(rc["unit_translated"], pa.bool_()).filter(mask),
            "catalogued": pa.array(rc["catalogued"], pa.bool_()).filter(mask),
            "synthetic": lines_tab.column("synthetic"), "content_hash": lines_tab.column("content_hash"),
        }).cast(TIDY_SCHEMA)
        self.n_rows += table.num_rows
        if self.buckets == 1:
            parts = {0: table}
        else:
            bucket = _bucket_of(table.column("patient").to_pandas(), self.buckets)
            order = np.argsort(bucket, kind="stable")
            sorted_tab = table.take(pa.array(order))
            b_sorted = bucket[order]
            edges = np.flatnonzero(np.diff(b_sorted)) + 1
            bounds = np.concatenate([[0], edges, [len(b_sorted)]])
            parts = {int(b_sorted[a]): sorted_tab.slice(a, z - a) for a, z in zip(bounds[:-1], bounds[1:], strict=True) if z > a}
        for b, part in parts.items():
            d = self.stage / f"bucket={b:05d}"
            d.mkdir(parents=True, exist_ok=True)
            with pa.OSFile(str(d / f"part-{self.tag}-{self.chunk:05d}.arrow"), "wb") as sink, \
                    pa.ipc.new_file(sink, TIDY_SCHEMA) as writer:  # staging: Arrow IPC, fast to write and map back
                writer.write_table(part)
        self.chunk += 1

    def result(self) -> tuple[int, int, int, pd.DataFrame]:
        rej = pd.DataFrame.from_records(self.rejects, columns=REJECT_SCHEMA.names)
        return self.physical, self.lines, self.n_rows, rej


def _sender_hint(raw: bytes, devices: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(vendor, device type) of a line that did not parse, from its device reference or meta.source, if it has them."""
    i = raw.find(b'"Device/')
    if i >= 0:
        device = raw[i + 8: raw.find(b'"', i + 8)].decode("utf-8", "replace")
        if device in devices:
            return devices[device]
    i = raw.find(b"urn:kuntalib:vendor:")
    if i < 0:
        return "unknown", "unknown"
    return raw[i + 20: raw.find(b'"', i)].decode("utf-8", "replace"), "unknown"


def _lines(path: Path, start: int, end: int, block: int = 16 << 20) -> Iterator[tuple[int, bytes]]:
    """(line number within the range, from 1; raw line) for every physical line of the range.

    Reads ``block`` bytes at a time and splits them, so memory stays bounded by the block.
    """
    line = 1
    rest = b""
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = end - start
        while remaining > 0:
            data = fh.read(min(block, remaining))
            if not data:
                break
            remaining -= len(data)
            parts = (rest + data).split(b"\n")
            rest = parts.pop()
            for raw in parts:
                yield line, raw
                line += 1
    if rest:
        yield line, rest


def parse_range(path: str, start: int, end: int, stage: str, tag: str, buckets: int,
                options: IngestOptions, devices: dict[str, tuple[str, str]]) -> tuple[int, int, int, pd.DataFrame]:
    """Phase 1 for one byte range of one NDJSON file: (physical lines, lines, rows, rejects).

    Line numbers (in the staged parts and the rejects) count from 1 within the range.
    """
    sink = _Sink(Path(path).name, Path(stage), tag, buckets, options)
    sink.feed(ObservationParser(options, devices), _lines(Path(path), start, end))
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
        sink.reject(0, Reject("invalid_json", f"not a Bundle: {exc}"), raw[:200])
        return sink.result()
    sink.feed(ObservationParser(options, devices),
              ((i + 1, bytes(e["resource"]) if "resource" in e else b'{"resourceType": null}') for i, e in enumerate(bundle.entry)))
    return sink.result()


def _first_of(frame: pd.DataFrame, keys: list[str], order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For lines (rows of ``frame`` in arrival ``order``): is it a repeat of ``keys``, and the row of the first."""
    ordered = frame.iloc[order]
    codes = ordered.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    first_pos = pd.Series(np.arange(len(codes))).groupby(codes).transform("min").to_numpy()
    repeat = first_pos != np.arange(len(codes))
    out_repeat = np.zeros(len(frame), bool)
    out_first = np.zeros(len(frame), np.int64)
    out_repeat[order] = repeat
    out_first[order] = order[first_pos]
    return out_repeat, out_first


def finalize_bucket(stage_bucket: str, out_file: str, offsets: dict[str, int] | None = None) -> tuple[int, pd.DataFrame]:
    """Phase 2 for one bucket: drop duplicate lines (earlier line wins), write the bucket; (rows kept, rejects).

    ``offsets`` shifts the range-relative line numbers of each staged part (by its work-unit
    tag) to file line numbers. Rows keep the order of the parts: source file, then line.
    """
    parts = []
    for f in sorted(Path(stage_bucket).glob("part-*.arrow")):
        part = pa.ipc.open_file(pa.memory_map(str(f))).read_all()  # the map lives as long as the table
        shift = (offsets or {}).get(f.stem[5:f.stem.rfind("-")], 0)
        if shift:
            part = part.set_column(part.schema.get_field_index("line"), "line", pc.add(part.column("line"), shift))
        parts.append(part)
    table = pa.concat_tables(parts)
    key = table.select(["source", "line", "patient", "identifier", "content_hash", "vendor", "device_type"]).to_pandas()
    src_code = pd.factorize(key["source"], sort=True)[0].astype(np.int64)
    row_key = src_code * (1 << 40) + key["line"].to_numpy()
    first_row = ~pd.Series(row_key).duplicated().to_numpy()
    lines = key[first_row].reset_index(drop=True)
    lkey = row_key[first_row]
    reason = np.full(len(lines), None, dtype=object)
    first_idx = np.zeros(len(lines), np.int64)
    has_id = lines["identifier"].notna().to_numpy()
    if has_id.any():
        sub = np.flatnonzero(has_id)
        rep, first = _first_of(lines.iloc[sub].reset_index(drop=True), ["patient", "identifier"],
                               np.argsort(lkey[sub], kind="stable"))
        rep_rows, first_rows = sub[rep], sub[first[rep]]
        same = lines["content_hash"].to_numpy()[rep_rows] == lines["content_hash"].to_numpy()[first_rows]
        reason[rep_rows] = np.where(same, "duplicate", "identifier_conflict")
        first_idx[rep_rows] = first_rows
    rest = np.flatnonzero(reason == None)  # noqa: E711
    rep, first = _first_of(lines.iloc[rest].reset_index(drop=True), ["content_hash"], np.argsort(lkey[rest], kind="stable"))
    reason[rest[rep]] = "duplicate_content"
    first_idx[rest[rep]] = rest[first[rep]]
    hit = np.flatnonzero(reason != None)  # noqa: E711
    rej = pd.DataFrame({
        "source": lines["source"].to_numpy()[hit], "line": lines["line"].to_numpy()[hit], "reason": reason[hit].astype(str),
        "detail": [f"first at {s} line {ln}" for s, ln in zip(lines["source"].to_numpy()[first_idx[hit]],
                                                                  lines["line"].to_numpy()[first_idx[hit]], strict=True)],
        "vendor": lines["vendor"].to_numpy()[hit], "device_type": lines["device_type"].to_numpy()[hit], "raw": "",
    }, columns=REJECT_SCHEMA.names)
    if len(hit):
        table = table.filter(pa.array(~np.isin(row_key, lkey[hit])))
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out_file, use_dictionary=_DICT_COLUMNS, compression="lz4")
    return table.num_rows, rej


#: Runs work units: ``runner(fn, tasks) -> [fn(*task) for task in tasks]``, in any order of execution.
Runner = Callable[[Callable, list[tuple]], list]


def local_runner(workers: int = 1) -> Runner:
    """Run work units in this process (``workers`` <= 1) or in a pool of ``workers`` processes."""

    def run(fn: Callable, tasks: list[tuple]) -> list:
        if workers <= 1 or len(tasks) <= 1:
            return [fn(*t) for t in tasks]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, *zip(*tasks, strict=True)))

    return run


def _buckets_for(total_bytes: int, rows_per_bucket: int) -> int:
    est_lines = max(1, total_bytes // 700)
    return int(max(1, min(4096, -(-est_lines // rows_per_bucket))))


def _ingest(kind: str, paths: list[Path], out_dir: Path, options: IngestOptions, devices: dict[str, tuple[str, str]],
            workers: int, range_bytes: int, rows_per_bucket: int, runner: Runner | None = None) -> IngestResult:
    run = runner or local_runner(workers)
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    stage = out_dir / "stage"
    stage.mkdir(parents=True)
    buckets = _buckets_for(sum(os.path.getsize(p) for p in paths), rows_per_bucket)
    if workers > 1:
        buckets = max(buckets, workers)
    offsets: dict[str, int] = {}
    if kind == "ndjson":
        tasks = [(str(p), a, b, str(stage), f"{i:04d}-{j:04d}", buckets, options, devices)
                 for i, p in enumerate(paths) for j, (a, b) in enumerate(plan_ranges(p, range_bytes))]
        results = run(parse_range, tasks)
        done: dict[str, int] = {}
        for task, res in zip(tasks, results, strict=True):
            offsets[task[4]] = done.get(task[0], 0)
            done[task[0]] = offsets[task[4]] + res[0]
            if len(res[3]):
                res[3]["line"] += offsets[task[4]]
    else:
        tasks = [(str(p), str(stage), f"{i:04d}", buckets, options, devices) for i, p in enumerate(paths)]
        results = run(parse_bundle, tasks)
    lines = sum(r[1] for r in results)
    rejects = [r[3] for r in results]
    bucket_dirs = sorted(stage.glob("bucket=*"))
    final = run(finalize_bucket, [(str(d), str(out_dir / "observations" / d.name / "part-0.parquet"), offsets)
                                  for d in bucket_dirs])
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
                  devices: dict[str, tuple[str, str]] | None = None, workers: int = 1, range_bytes: int = 16 << 20,
                  rows_per_bucket: int = 500_000, runner: Runner | None = None) -> IngestResult:
    """Ingest Observation NDJSON files (see module docstring). ``devices`` maps device ids to (vendor, type).

    ``runner`` runs the work units elsewhere (e.g. :func:`kuntalib.fhir.scale.dask_runner`); the
    default is :func:`local_runner` with ``workers`` processes. ``out_dir`` must be on storage every
    worker sees.
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return _ingest("ndjson", paths, Path(out_dir), options or IngestOptions(), devices or {}, workers, range_bytes,
                   rows_per_bucket, runner)


def ingest_bundles(paths: str | Path | Iterable[str | Path], out_dir: str | Path, *, options: IngestOptions | None = None,
                   devices: dict[str, tuple[str, str]] | None = None, workers: int = 1,
                   rows_per_bucket: int = 500_000, runner: Runner | None = None) -> IngestResult:
    """Ingest Bundle JSON files; each entry counts as a line numbered by its position."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return _ingest("bundle", paths, Path(out_dir), options or IngestOptions(), devices or {}, workers, 0, rows_per_bucket,
                   runner)
