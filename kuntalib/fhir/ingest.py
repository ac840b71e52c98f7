"""Ingest FHIR NDJSON or Bundles into a tidy, patient-bucketed Parquet dataset, in bounded memory.

Two phases:

1. **Parse** (streaming): files are cut into byte ranges at line ends, and small files
   are put several to a unit (:func:`plan_units`; a Bundle's entries are lines too, see
   :func:`parse_bundles`); each unit is
   read block by block into one reused buffer and up to ``chunk_lines`` lines at a time go
   into columns: the plain, common line by Arrow's JSON reader and whole-column checks
   (:mod:`kuntalib.fhir.columns`), every other line by :class:`~kuntalib.fhir.parse.ObservationParser`,
   the reference implementation (the two agree line for line; ``IngestOptions.fast_path=False``
   uses the reference parser alone). Units are translated and times converted to UTC for the
   whole chunk at once, and the rows are written to ``stage/bucket=K/`` by a stable hash of
   the patient. Units run in parallel when ``workers > 1`` (threads with the fast path,
   processes without it; see :func:`local_runner`).
2. **Deduplicate** (bucket by bucket): duplicates always share a patient, so each
   bucket is deduplicated on its own — by (patient, identifier) (same content:
   ``duplicate``, other content: ``identifier_conflict``) and by content
   (``duplicate_content``); the earlier line wins. Identifiers are checked per
   patient, so the result does not depend on the number of buckets. Only the key columns
   are gathered; the rows are written to Parquet from the staged (memory-mapped) parts.

Memory is bounded by ``chunk_lines`` in phase 1 and by the largest bucket in phase 2;
the number of buckets grows with the input (``rows_per_bucket``), so neither depends
on the file size. Every line ends up accepted (its rows in ``observations/``) or
rejected (in ``rejects.parquet`` with line, reason, detail and the first
``max_raw_chars`` characters of the line): accepted + rejected = lines read.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import gc
import itertools
import os
import re
import shutil
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

import msgspec
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kuntalib.fhir import columns
from kuntalib.fhir.parse import REASONS, VENDOR_SOURCE, IngestOptions, ObservationParser, Reject, strip_bom

__all__ = ["IngestResult", "MARKER", "OBSERVATION_COLUMNS", "ingest_ndjson", "ingest_bundles", "ingest_bulk_export", "BulkExportError", "local_runner", "Runner", "load_devices", "plan_ranges", "TIDY_SCHEMA", "REJECT_SCHEMA",
           "read_observations", "finalize_bucket", "parse_range", "parse_files", "parse_unit",
           "plan_units", "parse_bundles", "read_lines", "line_spans"]

TIDY_SCHEMA = pa.schema([
    ("source", pa.string()), ("line", pa.int64()), ("observation_id", pa.string()), ("identifier", pa.string()),
    ("patient", pa.string()), ("device", pa.string()), ("vendor", pa.string()), ("device_type", pa.string()),
    ("status", pa.string()), ("components_skipped", pa.int32()),
    ("time_utc", pa.timestamp("us", tz="UTC")), ("time_precision", pa.string()), ("tz_assumed", pa.bool_()),
    ("period_end_utc", pa.timestamp("us", tz="UTC")), ("issued_utc", pa.timestamp("us", tz="UTC")), ("panel", pa.string()),
    ("code", pa.string()), ("value", pa.float64()), ("unit", pa.string()), ("comparator", pa.string()),
    ("absent_reason", pa.string()), ("unit_translated", pa.bool_()), ("catalogued", pa.bool_()), ("synthetic", pa.bool_()),
    ("content_hash", pa.int64()), ("version_key", pa.string()),
])
#: The columns a reader gets by default (the de-duplication hash and version key are internal).
OBSERVATION_COLUMNS = [c for c in TIDY_SCHEMA.names if c not in ("content_hash", "version_key")]
#: Low-cardinality columns worth dictionary-encoding in Parquet (ids and times are not).
_DICT_COLUMNS = ["source", "patient", "device", "vendor", "device_type", "status", "time_precision", "panel", "code", "unit",
                 "comparator", "absent_reason"]
REJECT_SCHEMA = pa.schema([
    ("source", pa.string()), ("line", pa.int64()), ("reason", pa.string()), ("detail", pa.string()), ("vendor", pa.string()),
    ("device_type", pa.string()), ("raw", pa.string()),
])


@dataclass
class IngestResult:
    """Where the tidy data went and what was rejected.

    ``lines`` = ``accepted`` + ``rejected``; ``rows`` counts tidy rows (a blood-pressure
    panel gives two). ``reject_table`` (Arrow) and ``rejects`` (the same as a DataFrame) hold
    source, line, reason, detail, vendor, device type and raw, by source and line.
    """

    out_dir: Path
    lines: int
    accepted: int
    rejected: int
    rows: int
    reject_table: pa.Table = field(repr=False)
    buckets: int = 1
    #: What else the call met: files of a Bulk Data export not ingested (their type), counts that disagree.
    notes: list[str] = field(default_factory=list)

    @functools.cached_property
    def rejects(self) -> pd.DataFrame:
        """The rejected lines as a DataFrame (source, line, reason, detail, vendor, device_type, raw)."""
        return self.reject_table.to_pandas()

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
    """Read the tidy Parquet dataset an ingest wrote under ``out_dir`` (default: :data:`OBSERVATION_COLUMNS`).

    When no line was accepted the result is an empty table with the tidy columns and types.
    """
    return _observation_table(out_dir, columns or OBSERVATION_COLUMNS).to_pandas()


def _observation_table(out_dir: str | Path, columns: list[str]) -> pa.Table:
    """The tidy dataset's ``columns`` as an Arrow table (typed and empty when no line was accepted)."""
    if not any((Path(out_dir) / "observations").glob("*/*.parquet")):
        return TIDY_SCHEMA.empty_table().select(columns)
    return pq.read_table(Path(out_dir) / "observations", columns=columns, schema=TIDY_SCHEMA, partitioning=None)


def load_devices(paths: Iterable[str | Path], skipped: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """Device id -> (vendor, device type) from Device NDJSON files, plain or gzip (vendor from the identifier system or manufacturer).

    Resources other than Devices, and Devices without an id (nothing can reference them), are passed
    over. A line that is not a JSON Device, or a gzip file that is cut off or damaged, is described in
    ``skipped`` ("file:line: why") when a list is given, and raises ``ValueError`` naming the file and
    line when not.
    """
    out: dict[str, tuple[str, str]] = {}

    def problem(where: str) -> None:
        if skipped is None:
            raise ValueError(where)
        skipped.append(where)

    for path in paths:
        data, error = _whole_file(path)
        if error is not None:
            data = data.rpartition(b"\n")[0]  # the complete lines read before the break
            read = data.count(b"\n") + 1 if data else 0
            problem(f"{path}: {error}; only its first {read} lines are read")
        for n, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                d = orjson.loads(strip_bom(raw))
                if not isinstance(d, dict) or d.get("resourceType") != "Device" or not isinstance(d.get("id"), str):
                    continue
                systems = [i.get("system", "") for i in d.get("identifier") or [] if isinstance(i, dict)]
                vendor = next((s.rsplit(":", 1)[-1] for s in systems if isinstance(s, str) and s.startswith(VENDOR_SOURCE)),
                              None)
                kind = d.get("type")
                out[d["id"]] = (str(vendor or d.get("manufacturer") or "unknown"),
                                str((kind.get("text") if isinstance(kind, dict) else None) or "unknown"))
            except (orjson.JSONDecodeError, AttributeError, TypeError) as exc:
                problem(f"{path}:{n}: not a readable Device ({type(exc).__name__}: {exc})")
    return out


#: The first two bytes of every gzip stream (RFC 1952).
_GZIP_MAGIC = b"\x1f\x8b"


#: Byte order marks of UTF-16 text (little, big endian): what Windows tools write as "Unicode".
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _head(path: str | Path) -> bytes:
    """A file's first two bytes, which tell gzip (:data:`_GZIP_MAGIC`) and UTF-16 (:data:`_UTF16_BOMS`) from text.

    The name is not looked at: downloads are often misnamed (a client that undoes the server's
    compression keeps the ``.gz`` name, a file saved without it may still be compressed). JSON text
    cannot start with these bytes, so the test is unambiguous. Either kind is read from its start as
    one stream.
    """
    with open(path, "rb") as fh:
        return fh.read(2)


def _utf16_as_utf8(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """UTF-16 text that starts with its byte order mark, as UTF-8, piece by piece.

    PowerShell 5 and Notepad's "Unicode" write UTF-16; FHIR NDJSON is UTF-8, and the mark leaves no
    doubt which it is. A lone surrogate is carried over as the bytes UTF-8 forbids (the line is then
    rejected as not UTF-8); an odd last byte becomes U+FFFD (a line that is not JSON).
    """
    dec = codecs.getincrementaldecoder("utf-16")("surrogatepass")  # the mark sets the byte order and is dropped
    for piece in pieces:
        if out := dec.decode(piece):
            yield out.encode("utf-8", "surrogatepass")
    try:
        tail = dec.decode(b"", final=True)
    except UnicodeDecodeError:
        tail = "\ufffd"
    if tail:
        yield tail.encode("utf-8", "surrogatepass")


def _as_utf8(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The pieces of a stream as they are, or, if it starts with a UTF-16 byte order mark, as UTF-8."""
    pieces = iter(pieces)
    first = b""
    for first in pieces:
        if first:
            break
    if first[:2] in _UTF16_BOMS:
        yield from _utf16_as_utf8(itertools.chain([first], pieces))
        return
    if first:
        yield first
    yield from pieces


def _whole_file(path: str | Path) -> tuple[bytes, EOFError | CorruptFile | None]:
    """A small file's data, read by :func:`_read_into` (gzip decompressed, UTF-16 as UTF-8).

    With it the error that cut a gzip stream short (``EOFError``: cut off, ``CorruptFile``: damaged;
    the data is then what came before it), else None.
    """
    stream, pieces, error = _Stream(), [], None
    try:
        for buf, n in _read_into(Path(path), 0, os.path.getsize(path), _BLOCK_BYTES, stream):
            pieces.append(bytes(buf[:n]))
    except CorruptFile as exc:
        error = exc
    if stream.cut:
        error = EOFError(stream.cut)
    return b"".join(pieces), error


class CorruptFile(Exception):
    """A compressed input whose data fails gzip's checks (``str``: what failed)."""


def plan_ranges(path: str | Path, target_bytes: int = 64 << 20) -> list[tuple[int, int]]:
    """Cut a file into (start, end) byte ranges of about ``target_bytes`` that end at line ends.

    Line numbers are counted inside each range and shifted to file line numbers when
    the ranges are put together, so planning does not read the file.
    """
    size = os.path.getsize(path)
    if size and _head(path) in (_GZIP_MAGIC, *_UTF16_BOMS):  # gzip or UTF-16 cannot be entered in the middle: one range
        return [(0, size)]
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


_hash_strings = columns.hash_strings


def _cast_utc(strings: pa.Array, zone: str | None = None) -> np.ndarray:
    """UTC wall times (datetime64[us]) of ISO 8601 strings; NaT where Arrow cannot read one.

    Without ``zone`` the strings carry their offset. With it they are local wall times there: a time
    that falls twice (the autumn DST change) is ambiguous, NaT; a time that never happens (the spring
    change) moves forward past the gap (pandas' ``ambiguous="NaT", nonexistent="shift_forward"``).
    The whole array is cast at once; only when that fails is each string cast alone, so one bad string
    never changes another's result.
    """
    def cast(arr: pa.Array) -> np.ndarray:
        if zone is None:
            return pc.cast(arr, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
        wall = pc.cast(arr, pa.timestamp("us"))
        early, late = (pc.assume_timezone(wall, zone, ambiguous=a, nonexistent="latest").cast(pa.timestamp("us"))
                       .to_numpy(zero_copy_only=False) for a in ("earliest", "latest"))
        return np.where(early == late, early, np.datetime64("NaT"))

    try:
        return cast(strings)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = np.full(len(strings), np.datetime64("NaT"), dtype="datetime64[us]")
        for i, text in enumerate(strings.to_pylist()):
            if text is not None:
                try:
                    out[i] = cast(pa.array([text]))[0]
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    pass
        return out


#: A local date or date and time of the full form in 1900-2037, read by Arrow; other local times are left to
#: pandas (Arrow's time-zone rules end with the tz database's listed transitions, in 2037: it would read
#: a summer time of 2038 in Helsinki as winter time).
_LOCAL_FORM = r"^(19\d\d|20[0-2]\d|203[0-7])-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?)?$"


def _to_utc(strings: list | pa.Array, assume: str | None) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """UTC times of FHIR dateTime strings; (times, is_date_only, is_naive). Unparseable -> null.

    Each string is read on its own terms, whatever else the chunk holds: digits beyond the microsecond
    are dropped (the time is truncated) and a leap second (:60) is not a time. Times with an offset are
    cast by Arrow's ISO 8601 parser (see :func:`_cast_utc`); date-only and naive times are read in
    ``assume`` (UTC if None), DST-ambiguous local times as NaT and non-existent ones shifted forward:
    by Arrow for the full forms ``YYYY-MM-DD`` and ``YYYY-MM-DDThh:mm:ss[.f]`` of 1900-2037, by
    pandas for the rest (a year or a month alone, other years), with the same rule.
    """
    arr = strings if isinstance(strings, pa.Array) else pa.array(strings, pa.string())
    aware = pc.fill_null(pc.or_(pc.ends_with(arr, "Z"), pc.match_substring_regex(arr, r"[+-]\d\d:\d\d$")), False)
    aware_np = aware.to_numpy(zero_copy_only=False)
    present = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    date_only = pc.fill_null(pc.equal(pc.utf8_length(arr), 10), False).to_numpy(zero_copy_only=False)
    out = np.full(len(arr), np.datetime64("NaT"), dtype="datetime64[us]")  # UTC wall time

    def trimmed(sub: pa.Array) -> pa.Array:
        sub = pc.replace_substring_regex(sub, r"(\.\d{6})\d+", r"\1")
        leap = pc.fill_null(pc.match_substring_regex(sub, r"T\d\d:\d\d:60"), False)
        return pc.if_else(leap, pa.scalar(None, pa.string()), sub)

    if aware_np.any():
        out[aware_np] = _cast_utc(trimmed(arr.filter(aware)))
    local = ~aware_np & present
    if local.any():
        where = np.flatnonzero(local)
        sub = arr.filter(pa.array(local))
        full = pc.fill_null(pc.match_substring_regex(sub, _LOCAL_FORM), False).to_numpy(zero_copy_only=False)
        if full.any():
            out[where[full]] = _cast_utc(trimmed(sub.filter(pa.array(full))), assume or "UTC")
        if not full.all():
            rest = sub.filter(pa.array(~full)).to_pylist()
            naive = pd.to_datetime(pd.Series(rest, dtype=object), format="ISO8601", errors="coerce")
            utc = naive.dt.tz_localize(assume or "UTC", ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
            out[where[~full]] = utc.dt.tz_localize(None).to_numpy("datetime64[us]")
    return pa.array(out, pa.timestamp("us", tz="UTC"), from_pandas=True), date_only, local & ~date_only


def _not_a_time(text: str | None, assume: str | None) -> str:
    """Why a time string gave no instant: a local time the clocks pass twice, or not a time at all."""
    if assume and text and re.fullmatch(_LOCAL_FORM, text):
        try:
            wall = pc.cast(pa.array([text[:26]]), pa.timestamp("us"))
        except pa.ArrowInvalid:
            return "not a time"
        try:
            pc.assume_timezone(wall, assume, ambiguous="raise", nonexistent="latest")
        except pa.ArrowInvalid:
            return f"occurs twice in {assume} (the clocks go back), so it needs an offset"
    return "not a time"


_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (uint64, wrapping)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def _chain(*parts: np.ndarray) -> np.ndarray:
    """An order-dependent combination of hashes: (a, b) and (b, a) differ."""
    h = np.full(len(parts[0]), 0x9E3779B97F4A7C15, np.uint64)
    for p in parts:
        h = _mix(h ^ p.astype(np.uint64, copy=False))
    return h


def _content_keys(patient_hash: np.ndarray, times: np.ndarray, row_line: np.ndarray, rows: dict[str, pa.Array],
                  n_lines: int) -> np.ndarray:
    """The canonical content key of each line, independent of how the input was split.

    Patient, the UTC instant (microseconds), and the multiset of the line's values, each value as the
    tuple (code, value, unit, comparator, absent reason): component values stay paired with their
    codes (swapping two components' values changes the key) and their order does not matter (the
    values' hashes are mixed one by one, then summed).
    """
    with np.errstate(over="ignore"):
        value = rows["value"].to_numpy(zero_copy_only=False).astype(np.float64)
        bits = np.where(np.isnan(value), np.uint64(0x7FF8DEADBEEF0001), value.view(np.uint64))
        per_row = _mix(_chain(_hash_strings(rows["code"]), bits, _hash_strings(rows["unit"]),
                              _hash_strings(rows["comparator"]), _hash_strings(rows["absent_reason"])))
        multiset = np.zeros(n_lines, np.uint64)
        if len(row_line) and bool(np.all(row_line[1:] >= row_line[:-1])):  # the rows of a line stand together
            starts = np.flatnonzero(np.r_[True, row_line[1:] != row_line[:-1]])
            multiset[row_line[starts]] = np.add.reduceat(per_row, starts)
        else:
            np.add.at(multiset, row_line, per_row)
        t = times.astype("datetime64[us]").astype(np.int64).view(np.uint64)
        return _chain(patient_hash, t, multiset)


class _Sink:
    """Collects the columns and rejects of one work unit and writes them a chunk at a time."""

    def __init__(self, source: str, stage: Path, tag: str, buckets: int, options: IngestOptions) -> None:
        self.source, self.stage, self.tag, self.buckets, self.options = source, stage, tag, buckets, options
        self.rejects: list[tuple] = []
        self.chunk = 0
        self.lines = 0
        self.physical = 0
        self.n_rows = 0
        self.batches: list[columns.Batch] = []
        self.pending = 0
        self.device_arrays: tuple[pa.Array, pa.Array, pa.Array] | None = None
        # several whole files read as one stream (feed_files): their sources and the stream's line number
        # of each file's first line; None: one file, ``source``
        self.files: list[str] | None = None
        self.starts: list[int] = []
        self._reset()

    def _reset(self) -> None:
        self.line_no: list[int] = []
        self.heads: list[tuple] = []
        self.values: list[tuple] = []
        self.row_line: list[int] = []

    def reject(self, line: int, exc: Reject, raw: bytes, sender: tuple[str, str] = ("unknown", "unknown"),
               source: str | None = None) -> None:
        """Reject line ``line`` of what this sink reads, or (``source``) line ``line`` of that source as it stands."""
        text = raw[: self.options.max_raw_chars * 4].decode("utf-8", "replace")[: self.options.max_raw_chars]
        where = (source, line) if source is not None else self._where(line)
        self.rejects.append((*where, exc.code, exc.detail, *sender, text.rstrip("\n")))

    def _where(self, line: int) -> tuple[str, int]:
        """(source, line in it) of line ``line`` of what this sink reads (of the joined stream, see :meth:`feed_files`)."""
        if self.files is None:
            return self.source, line
        k = bisect.bisect_right(self.starts, line) - 1
        return self.files[k], line - self.starts[k] + 1

    def feed_file(self, parser: ObservationParser, path: Path, start: int, end: int) -> None:
        """Read the NDJSON lines of ``path[start:end]`` (see :meth:`_read`).

        A gzip stream that is cut off gives its complete lines as usual and one ``truncated_file``
        line where it breaks off (see :meth:`cut_off`); a damaged one raises :class:`CorruptFile`.
        """
        stream = _Stream()
        self._feed_blocks(parser, _read_into(path, start, end, _BLOCK_BYTES, stream), stream)

    def feed_files(self, parser: ObservationParser, paths: list[Path], sources: list[str]) -> None:
        """Read whole NDJSON files one after another as one stream of lines (see :func:`parse_files`).

        Each file's lines keep their own numbers in their own source (:meth:`_where`); a last line
        without its newline ends with its file.
        """
        self.files, self.starts = [], []
        self._feed_blocks(parser, self._joined(paths, sources, parser.devices), _Stream())

    def _joined(self, paths: list[Path], sources: list[str], devices: dict[str, tuple[str, str]]
                ) -> Iterator[tuple[bytes | bytearray, int]]:
        """Blocks of the files one after another, as many whole plain files to a block as fit, each ending with a newline.

        Records each file's source and the number of its first line in the stream (``files``, ``starts``).
        A gzip or UTF-16 file, or one larger than a block, is read as a stream of its own; if it is cut
        off, its complete lines are read and the break is one ``truncated_file`` line of that file; if
        it is damaged, :class:`CorruptFile` is raised (see :func:`parse_unit`).
        """
        sizes = [os.path.getsize(p) for p in paths]
        buf = bytearray(max(1, min(_BLOCK_BYTES, sum(sizes) + len(paths))))
        n, line = 0, 1
        for path, source, size in zip(paths, sources, sizes, strict=True):
            self.files.append(source)
            self.starts.append(line)
            streamed = size + 1 > len(buf) or _head(path) in (_GZIP_MAGIC, *_UTF16_BOMS)
            if n and (streamed or size + 1 > len(buf) - n):  # no room left, or a stream: hand over the files before it
                yield buf, n
                n = 0
            if streamed:
                first, stream = line, _Stream()
                for block, a, z in _line_spans(_read_into(path, 0, size, _BLOCK_BYTES, stream), stream):
                    piece = bytes(block[a:z])
                    if not piece:
                        continue
                    if piece[-1] != 0x0A:  # the last line of a file without its newline ends with its file
                        piece += b"\n"
                    line += piece.count(b"\n")
                    yield piece, len(piece)
                if stream.cut:
                    self.cut_off(line - first + 1, stream.tail, stream.cut, devices, source)
                continue
            with open(path, "rb", buffering=0) as fh, memoryview(buf) as view:
                got = 0
                while got < size and (k := fh.readinto(view[n + got: n + size])):
                    got += k
            line += buf.count(b"\n", n, n + got)
            if got and buf[n + got - 1] != 0x0A:  # a last line without its newline ends with its file
                buf[n + got] = 0x0A
                got += 1
                line += 1
            n += got
        if n:
            yield buf, n

    def _feed_blocks(self, parser: ObservationParser, blocks: Iterator[tuple[bytes | bytearray, int]], stream: _Stream) -> None:
        self.device_arrays = columns.device_arrays(parser.devices)
        enabled = gc.isenabled()
        gc.disable()  # the cyclic garbage collector pauses meanwhile (the parsers make no cycles)
        try:
            line = 1
            for buf, a, z in _line_spans(blocks, stream):
                line = self._read(parser, buf, a, z, line)
            self.flush()
            if stream.cut:
                self.cut_off(line, stream.tail, stream.cut, parser.devices)
        finally:
            if enabled:
                gc.enable()

    def cut_off(self, line: int, tail: bytes, why: str, devices: dict[str, tuple[str, str]], source: str | None = None) -> None:
        """Account for the end of a cut-off stream: line ``line``, its incomplete text ``tail`` (perhaps empty), is
        one rejected line, ``truncated_file``, so the break shows in the rejects with its line number
        (``source``: line ``line`` of that source, one of several files read together)."""
        self.lines += 1
        self.physical = max(self.physical, line)
        what = "this line is incomplete" if tail.strip() else "the file breaks off here"
        self.reject(line, Reject("truncated_file", f"{why}: {what}; any lines after it are missing"), tail,
                    _sender_hint(tail, devices), source)

    def _read(self, parser: ObservationParser, buf: bytes | bytearray, a: int, z: int, line: int) -> int:
        """Read the whole lines of ``buf[a:z]``, the first numbered ``line``, a chunk at a time; the next line number.

        Arrow's reader takes the lines :func:`columns.read_lines` can settle; the rest go to the reference parser.
        """
        starts, ends, blank = line_spans(buf, a, z)
        numbers = np.arange(line, line + len(starts))
        full = np.flatnonzero(~blank)
        limit = self.options.chunk_lines
        for lo in range(0, len(full), limit):
            at = full[lo:lo + limit]
            if self.options.fast_path:
                batch, slow = columns.read_lines(buf, starts[at], ends[at], numbers[at], parser, self.device_arrays)
            else:  # every line to the reference parser
                batch, slow = columns.empty(), np.arange(len(at))
            if len(batch):
                self.batches.append(batch)
                self.pending += len(batch)
            self._parse(parser, ((int(numbers[k]), bytes(buf[starts[k]:ends[k]])) for k in at[slow].tolist()))
            if self.pending + len(self.heads) >= limit:
                self.flush()
        self.lines += len(full)
        self.physical = max(self.physical, line + len(starts) - 1)
        return line + len(starts)

    def _parse(self, parser: ObservationParser, items: Iterable[tuple[int, bytes]]) -> None:
        """Parse (line number, non-blank line) pairs with the reference parser, keeping what it accepts and rejects."""
        parse = parser.parse
        line_no, heads, vals, row_line = self.line_no, self.heads, self.values, self.row_line
        for line, raw in items:
            try:
                head, values = parse(raw)
            except Reject as exc:
                self.reject(line, exc, raw, _sender_hint(raw, parser.devices))
                continue
            except Exception as exc:  # noqa: BLE001 - one bad line must never cost the others
                self.reject(line, Reject("unreadable", f"{type(exc).__name__}: {exc}"), raw, _sender_hint(raw, parser.devices))
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

    def flush(self) -> None:
        if self.heads:
            self.batches.append(columns.from_tuples(self.line_no, self.heads, self.values, self.row_line))
            self._reset()
        if not self.batches:
            return
        batch = columns.concat(self.batches)
        self.batches, self.pending = [], 0
        self._write(batch)

    def _write(self, batch: columns.Batch) -> None:
        lc, rc, row_line = batch.lines, batch.rows, batch.row_line
        n = len(batch)
        assume = self.options.assume_timezone
        # One time-zone rule for start, period end and issued (see kuntalib.fhir.parse).
        ends = lc["period_end"]
        has_end = pc.fill_null(pc.greater(pc.utf8_length(ends), 0), False)
        ends = pc.if_else(has_end, ends, pa.scalar(None, pa.string()))
        has_end = has_end.to_numpy(zero_copy_only=False)
        when, _, naive = _to_utc(lc["effective"], assume)
        end_utc, _, end_naive = _to_utc(ends, assume)
        issued_utc, _, issued_naive = _to_utc(lc["issued"], assume)
        has_issued = pc.is_valid(lc["issued"]).to_numpy(zero_copy_only=False)
        naive = naive | (end_naive & has_end) | (issued_naive & has_issued)
        start_np = when.to_numpy(zero_copy_only=False)
        end_np = end_utc.to_numpy(zero_copy_only=False)
        withdrawn = pc.fill_null(pc.equal(lc["status"], "entered-in-error"), False).to_numpy(zero_copy_only=False)
        bad = when.is_null().to_numpy(zero_copy_only=False) & ~withdrawn
        backwards = has_end & ~bad & ~np.isnat(end_np) & (end_np < start_np)
        bad_end = has_end & np.isnat(end_np)
        for i in np.nonzero(bad | backwards | bad_end)[0].tolist():
            eff, end = lc["effective"][i].as_py(), ends[i].as_py()
            why = (f"effective {eff!r}: {_not_a_time(eff, assume)}" if bad[i]
                   else f"effectivePeriod.end {end!r} is before the start {eff!r}" if backwards[i]
                   else f"effectivePeriod.end {end!r}: {_not_a_time(end, assume)}")
            self.rejects.append((*self._where(lc["line"][i].as_py()), "bad_time", why, lc["vendor"][i].as_py(),
                                 lc["device_type"][i].as_py(), ""))
        bad = bad | backwards | bad_end
        patient_hash = _hash_strings(lc["patient"])
        line_hash = _content_keys(patient_hash, start_np, row_line, rc, n)
        rows = np.flatnonzero(~bad[row_line])  # the rows written, by bucket, then line (rows of a line in their order)
        line_bucket = (patient_hash % np.uint64(self.buckets)).astype(np.int32)
        order_key = lc["line"].to_numpy()[row_line[rows]]
        if self.buckets > 1:
            order_key = line_bucket[row_line[rows]].astype(np.int64) * (1 << 40) + order_key
        if len(order_key) > 1 and not bool(np.all(np.diff(order_key) >= 0)):
            rows = rows[np.argsort(order_key, kind="stable")]
        row_bucket = line_bucket[row_line[rows]]
        line_take = row_line[rows]
        # one take per column, skipped where it would change nothing (every line one row, nothing dropped)
        same_rows = len(rows) == len(row_line) and (len(rows) < 2 or bool(np.all(np.diff(rows) > 0)))
        same_lines = same_rows and len(row_line) == n and (n < 2 or bool(np.all(np.diff(row_line) > 0)))
        take_rows = None if same_rows else pa.array(rows)
        take_lines = None if same_lines else pa.array(line_take)
        per_line = {"time_utc": when, "time_precision": lc["precision"], "tz_assumed": pa.array(naive),
                    "period_end_utc": end_utc, "issued_utc": issued_utc, "content_hash": pa.array(line_hash.view(np.int64)),
                    "version_key": lc["version"]}
        file_of = None
        if self.files is not None:  # several files read as one stream: each line's file, and its line in it
            line_no = lc["line"].to_numpy()
            starts = np.asarray(self.starts, np.int64)
            file_of = np.searchsorted(starts, line_no, side="right") - 1
            per_line["line"] = pa.array(line_no - starts[file_of] + 1, pa.int64())
        out = {}
        for name in TIDY_SCHEMA.names:
            if name == "source" and file_of is not None:
                out[name] = pa.array(self.files, pa.string()).take(pa.array(file_of[line_take]))
            elif name == "source":
                out[name] = pa.repeat(pa.scalar(self.source, pa.string()), len(rows))
            elif name in rc:
                out[name] = rc[name] if take_rows is None else rc[name].take(take_rows)
            else:
                col = per_line[name] if name in per_line else lc[name]
                out[name] = col if take_lines is None else col.take(take_lines)
        table = pa.table(out).cast(TIDY_SCHEMA)
        self.n_rows += table.num_rows
        edges = np.flatnonzero(np.diff(row_bucket)) + 1
        bounds = np.concatenate([[0], edges, [len(rows)]])
        parts = {int(row_bucket[a]): table.slice(a, z - a) for a, z in zip(bounds[:-1], bounds[1:], strict=True) if z > a}
        for b, part in parts.items():
            d = self.stage / f"bucket={b:05d}"
            d.mkdir(parents=True, exist_ok=True)
            # staging: Arrow IPC, fast to write and map back; buffered, so a part is a few writes, not one per buffer
            with pa.BufferedOutputStream(pa.OSFile(str(d / f"part-{self.tag}-{self.chunk:05d}.arrow"), "wb"), 1 << 20) as sink, \
                    pa.ipc.new_file(sink, TIDY_SCHEMA) as writer:
                writer.write_table(part)
        self.chunk += 1

    def result(self) -> tuple[int, int, int, pa.Table]:
        return self.physical, self.lines, self.n_rows, _reject_table(self.rejects)


def _reject_table(records: list[tuple]) -> pa.Table:
    """Reject records (source, line, reason, detail, vendor, device type, raw) as a table of :data:`REJECT_SCHEMA`."""
    if not records:
        return REJECT_SCHEMA.empty_table()
    return pa.Table.from_arrays([pa.array(col, f.type) for col, f in zip(zip(*records, strict=True), REJECT_SCHEMA,
                                                                            strict=True)], schema=REJECT_SCHEMA)


def _sender_hint(raw: bytes, devices: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(vendor, device type) of a line that did not parse, from its device reference or meta.source, if it has them."""
    if not isinstance(raw, bytes | bytearray):
        return "unknown", "unknown"
    i = raw.find(b'"Device/')
    if i >= 0:
        device = raw[i + 8: raw.find(b'"', i + 8)].decode("utf-8", "replace")
        if device in devices:
            return devices[device]
    prefix = VENDOR_SOURCE.encode()
    i = raw.find(prefix)
    if i < 0:
        return "unknown", "unknown"
    return raw[i + len(prefix): raw.find(b'"', i)].decode("utf-8", "replace"), "unknown"


def line_spans(buf: bytes | bytearray, a: int, z: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines of ``buf[a:z]`` (whole lines; the last may lack its newline): (starts, ends, is blank).

    A blank line is empty or white space alone (``bytes.isspace``), as the reference parser skips it.
    """
    if z <= a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    data = np.frombuffer(buf, np.uint8, count=z - a, offset=a)
    ends = np.flatnonzero(data == 0x0A) + a
    if buf[z - 1] != 0x0A:  # a last line without its newline
        ends = np.append(ends, z)
    starts = np.r_[a, ends[:-1] + 1]
    blank = ends == starts
    for k in np.flatnonzero(~blank & np.isin(data[np.minimum(starts, ends - 1) - a], _SPACE)).tolist():
        blank[k] = bytes(buf[starts[k]:ends[k]]).isspace()
    return starts, ends, blank


def _split_lines(blocks: Iterable[tuple[bytes | bytearray, int]]) -> Iterator[tuple[int, bytes]]:
    """(line number, from 1; raw line) for every physical line of consecutive (buffer, bytes in it) blocks, cut
    from :func:`_line_spans`."""
    line = 1
    for buf, a, z in _line_spans(blocks, _Stream()):
        starts, ends, _blank = line_spans(buf, a, z)
        for k, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True), line):
            yield k, bytes(buf[start:end])
        line += len(starts)


def _line_spans(blocks: Iterable[tuple[bytes | bytearray, int]], stream: _Stream
                ) -> Iterator[tuple[bytes | bytearray, int, int]]:
    """(buffer, start, end) spans of whole lines of consecutive (buffer, bytes in it) blocks.

    A span lies in its block's buffer where it can (valid until the next step); a line that spans two
    blocks is joined. The text after the last newline is a span of its own, unless ``stream`` says the
    data was cut off: then it is left in ``stream.tail``.
    """
    rest = b""
    for buf, n in blocks:
        cut = buf.rfind(b"\n", 0, n) + 1
        if not cut:
            rest += bytes(buf[:n])
            continue
        first = 0
        if rest:  # the line that spans two blocks
            first = buf.find(b"\n", 0, n) + 1
            joined = rest + bytes(buf[:first])
            yield joined, 0, len(joined)
        yield buf, first, cut
        rest = bytes(buf[cut:n])
    if stream.cut:
        stream.tail = rest
    elif rest:
        yield rest, 0, len(rest)


#: The bytes a line of white space may start with (such a line is skipped, as the reference parser skips it).
_SPACE = np.frombuffer(b" \t\r\x0b\x0c", np.uint8)
#: Bytes read at a time from an NDJSON file (memory per work unit is a few times this).
_BLOCK_BYTES = 8 << 20


#: Compressed bytes given to zlib at a time: what decompressed before a damaged part is kept to within this.
_GZIP_READ = 64 << 10


def _gunzip(fh: BinaryIO, limit: int) -> Iterator[bytes]:
    """The decompressed data of a gzip file (one member or several, as ``gzip`` reads them), at most ``limit`` bytes a piece.

    Every byte that decompresses is yielded, up to the point of failure (``gzip.open`` drops a partly
    filled read when the stream breaks; zlib drops the output of a call that fails, so a failed call
    is repeated a byte at a time to give what came before the damage). Then ``EOFError`` if the
    stream ends before its end marker; ``CorruptFile`` if a check fails (bad header or data, CRC or length).
    """
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    member = True  # inside a member (at the start, one must follow)
    try:
        while data := fh.read(_GZIP_READ):
            while True:
                if not member:  # between members: zero padding is skipped, anything else starts one
                    data = data.lstrip(b"\0")
                    if not data:
                        break
                    d, member = zlib.decompressobj(16 + zlib.MAX_WBITS), True
                before = d.copy()
                try:
                    out = d.decompress(data, limit)
                except zlib.error as exc:  # what this input held before the damage comes first: again, a byte at a time
                    yield b"".join(_until_error(before, data))
                    raise exc from None
                if out:
                    yield out
                if d.eof:
                    data, member = d.unused_data, False
                    continue
                data = d.unconsumed_tail
                if not data and len(out) < limit:  # this input is used up and no output is pending
                    break
    except zlib.error as exc:
        raise CorruptFile(f"gzip: {exc}") from None
    if member:
        if out := d.flush():
            yield out
        raise EOFError(f"the gzip stream ends before its end marker (after {fh.tell():,} bytes of the file)")


def _until_error(d: zlib._Decompress, data: bytes) -> Iterator[bytes]:
    """What ``d`` decompresses of ``data`` fed a byte at a time, up to the byte where it fails."""
    for i in range(len(data)):
        try:
            yield d.decompress(data[i: i + 1])
        except zlib.error:
            return


def _gz_pieces(path: Path, block: int, stream: _Stream | None) -> Iterator[bytes]:
    """:func:`_gunzip` of a file; a stream cut off ends the pieces and is noted in ``stream`` (else ``EOFError``)."""
    with open(path, "rb") as fh:
        try:
            yield from _gunzip(fh, block)
        except EOFError as exc:
            if stream is None:
                raise
            stream.cut = str(exc)


@dataclass
class _Stream:
    """How the read of one range ended.

    ``cut`` holds why a gzip stream ended early (None: it did not); the incomplete last line is then
    left in ``tail`` instead of being read.
    """

    cut: str | None = None
    tail: bytes = b""


def _read_into(path: Path, start: int, end: int, block: int, stream: _Stream | None = None
               ) -> Iterator[tuple[bytearray | bytes, int]]:
    """(buffer, bytes in it) for the range ``block`` at a time, refilling one buffer (valid until the next step).

    Gzip data (by :func:`_head`) is decompressed as one stream (the range is all of it); if it is cut
    off, what it held is read, and ``stream.cut`` says so (without ``stream`` the ``EOFError`` is raised).
    UTF-16 text (plain or in gzip; one range too) is read as UTF-8 (:func:`_utf16_as_utf8`).
    """
    head = _head(path)
    if head == _GZIP_MAGIC:
        for piece in _as_utf8(_gz_pieces(path, block, stream)):
            yield piece, len(piece)
        return
    if start == 0 and head in _UTF16_BOMS:
        with open(path, "rb") as fh:
            for piece in _as_utf8(iter(lambda: fh.read(block), b"")):
                yield piece, len(piece)
        return
    buf = bytearray(max(1, min(block, end - start)))  # a small file gets a small buffer
    block = len(buf)
    view = memoryview(buf)
    try:
        with open(path, "rb", buffering=0) as fh:
            fh.seek(start)
            remaining = end - start
            while remaining > 0:
                n = fh.readinto(view[: min(block, remaining)])
                if not n:
                    break
                remaining -= n
                yield buf, n
    finally:
        view.release()


def read_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, raw line) of every line of an NDJSON file, read as the ingest reads it.

    Gzip and UTF-16 are known by their first bytes; a gzip file that is cut off or damaged raises
    ``ValueError`` naming the file (the ingest itself accounts for such a file line by line instead).
    """
    path = Path(path)
    try:
        yield from _split_lines(_read_into(path, 0, os.path.getsize(path), _BLOCK_BYTES))
    except (EOFError, CorruptFile) as exc:
        raise ValueError(f"{path}: {exc}") from None


def parse_range(path: str, start: int, end: int, stage: str, tag: str, buckets: int,
                options: IngestOptions, devices: dict[str, tuple[str, str]], source: str | None = None
                ) -> tuple[int, int, int, pa.Table]:
    """Phase 1 for one byte range of one NDJSON file: (physical lines, lines, rows, rejects).

    Line numbers (in the staged parts and the rejects) count from 1 within the range. ``source``
    names the file in the output (default: the path as given). A gzip or UTF-16 file is one range,
    read as a stream; a damaged gzip file's staged rows are withdrawn and its lines rejected
    (``corrupt_file``), a cut-off one keeps its complete lines (``truncated_file`` where it breaks off).
    """
    sink = _Sink(source or path, Path(stage), tag, buckets, options)
    try:
        sink.feed_file(ObservationParser(options, devices), Path(path), start, end)
    except CorruptFile as exc:
        return _reject_corrupt(Path(path), Path(stage), tag, source or path, options, devices, str(exc))
    return sink.result()


def parse_files(paths: list[str], stage: str, tag: str, buckets: int, options: IngestOptions,
                devices: dict[str, tuple[str, str]], sources: list[str] | None = None) -> tuple[int, int, int, pa.Table]:
    """Phase 1 for several whole, small NDJSON files at once: (physical lines, lines, rows, rejects) of them all.

    The files are read one after another as one stream of lines, and each line keeps its number in
    its own file and its file's source (default: the path as given), so the answer is what each file
    would give alone. What a work unit costs whatever its size (a chunk's columns, the staged parts,
    the later reading of them) is paid once for all the files instead of once a file: a Bulk Data
    export is often hundreds of files of a thousand resources. A damaged gzip file raises
    :class:`CorruptFile` (see :func:`parse_unit`).
    """
    sources = sources or list(paths)
    sink = _Sink(sources[0], Path(stage), tag, buckets, options)
    sink.feed_files(ObservationParser(options, devices), [Path(p) for p in paths], sources)
    return sink.result()


def parse_unit(unit: list[tuple[str, int, int, str, str]], stage: str, tag: str, buckets: int, options: IngestOptions,
               devices: dict[str, tuple[str, str]]) -> tuple[int, int, int, pa.Table]:
    """Phase 1 for one work unit of :func:`plan_units`: a range of a file (:func:`parse_range`) or several whole files (:func:`parse_files`).

    If one of several files turns out damaged (a gzip check fails), what the unit staged is withdrawn
    and its files are read again one by one, each under its own tag, so the damaged file's lines are
    all rejected (``corrupt_file``) and the others' are what they would be anyway.
    """
    if len(unit) == 1:
        path, start, end, source, _tag = unit[0]
        return parse_range(path, start, end, stage, tag, buckets, options, devices, source)
    try:
        return parse_files([u[0] for u in unit], stage, tag, buckets, options, devices, [u[3] for u in unit])
    except CorruptFile:
        _withdraw(Path(stage), tag)
        each = [parse_range(path, a, b, stage, own, buckets, options, devices, source) for path, a, b, source, own in unit]
        return (sum(r[0] for r in each), sum(r[1] for r in each), sum(r[2] for r in each),
                pa.concat_tables([r[3] for r in each]))


def _pack(sizes: list[int], limit: int) -> list[list[int]]:
    """Consecutive items (their indices) packed into groups of at most ``limit`` in size (next fit; an item
    larger than ``limit`` is a group of its own)."""
    groups: list[list[int]] = []
    room = 0
    for k, size in enumerate(sizes):
        if not groups or size > room:
            groups.append([])
            room = limit
        groups[-1].append(k)
        room -= size
    return groups


def _share(total: int, range_bytes: int, workers: int) -> int:
    """The size of a unit of files read together: ``range_bytes``, less where that would leave a worker idle."""
    return max(1, min(range_bytes, -(-total // max(1, workers))))


def plan_units(paths: list[Path], sources: list[str], range_bytes: int, workers: int = 1
               ) -> list[tuple[str, list[tuple[str, int, int, str, str]]]]:
    """Phase 1's work units, (tag, [(path, start, end, source, tag of the range)]), in file order.

    A file is cut into ranges (:func:`plan_ranges`), each a unit of its own. Consecutive files that
    are one range each (small ones, and every gzip or UTF-16 file, which is one stream) are put
    together into units of up to ``range_bytes`` on disk (less where that would leave a worker idle).
    A range's tag is ``file-range``; a unit's is that of its first range: the tags sort in file order.
    """
    planned = [(f"{i:04d}", str(p), src, plan_ranges(p, range_bytes)) for i, (p, src) in enumerate(zip(paths, sources, strict=True))]
    planned = [x for x in planned if x[3]]  # an empty file has nothing to read
    together = [len(r) == 1 for _i, _p, _s, r in planned]
    limit = _share(sum(r[0][1] for (_i, _p, _s, r), j in zip(planned, together, strict=True) if j), range_bytes, workers)
    units: list[tuple[str, list[tuple[str, int, int, str, str]]]] = []
    run: list[tuple[str, str, str, list[tuple[int, int]]]] = []
    for x, joins in [*zip(planned, together, strict=True), (None, False)]:
        if joins:
            run.append(x)
            continue
        for group in _pack([r[0][1] for _i, _p, _s, r in run], limit):  # the files before: together
            units.append((f"{run[group[0]][0]}-0000", [(run[k][1], *run[k][3][0], run[k][2], f"{run[k][0]}-0000") for k in group]))
        run = []
        if x is not None:
            i, p, src, ranges = x
            units += [(f"{i}-{j:04d}", [(p, a, b, src, f"{i}-{j:04d}")]) for j, (a, b) in enumerate(ranges)]
    return units


def _withdraw(stage: Path, tag: str) -> None:
    """Remove the parts a work unit staged (its rows are then not in the output)."""
    for part in stage.glob(f"bucket=*/part-{tag}-*.arrow"):
        part.unlink()


def _until_broken(blocks: Iterator[tuple[bytes | bytearray, int]]) -> Iterator[tuple[bytes | bytearray, int]]:
    """The blocks of a stream up to the point where it breaks (the error itself is known already)."""
    try:
        yield from blocks
    except (CorruptFile, EOFError):
        return


def _reject_corrupt(path: Path, stage: Path, tag: str, source: str, options: IngestOptions,
                    devices: dict[str, tuple[str, str]], why: str) -> tuple[int, int, int, pa.Table]:
    """Phase 1's answer for a damaged gzip file: its staged rows are withdrawn and every line is rejected (``corrupt_file``).

    Data that fails gzip's checks is not what was compressed, so even lines that parse may hold
    changed values. A file of which nothing decompresses is one rejected line (line 1).
    """
    _withdraw(stage, tag)
    sink = _Sink(source, stage, tag, 1, options)
    reason = Reject("corrupt_file", f"{why}: the file is damaged, so no line of it is trusted")
    for line, raw in _split_lines(_until_broken(_read_into(path, 0, os.path.getsize(path), _BLOCK_BYTES))):
        sink.physical = line
        if raw and not raw.isspace():
            sink.lines += 1
            sink.reject(line, reason, raw, _sender_hint(raw, devices))
    if not sink.lines:
        sink.lines, sink.physical = 1, max(sink.physical, 1)
        sink.reject(1, reason, b"")
    return sink.result()


class _Bundle(msgspec.Struct):
    resourceType: str
    entry: list[dict[str, msgspec.Raw]] = []


def _bundle_lines(path: str | Path) -> tuple[bytes, int] | tuple[Reject, bytes]:
    """A Bundle file's entries as NDJSON lines, line i the resource of entry i, and the number of entries;
    or, for a file whose Bundle cannot be read, the reason and the start of its text.

    A pretty-printed resource's newlines are whitespace between tokens (never inside a string), so
    each resource is one line; an entry without a resource is a line that is not an Observation.
    """
    raw, error = _whole_file(path)
    if error is not None:
        code = "truncated_file" if isinstance(error, EOFError) else "corrupt_file"
        return Reject(code, f"not a readable Bundle: {error}"), b""
    raw = strip_bom(raw)  # a byte order mark is ignored, as at the start of an NDJSON line
    try:
        bundle = msgspec.json.decode(raw, type=_Bundle)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        return Reject("invalid_json", f"not a Bundle: {exc}"), raw[:200]
    if bundle.resourceType != "Bundle":
        return Reject("not_bundle", f"resourceType {bundle.resourceType!r}"), raw[:200]
    lines = b"".join((bytes(e["resource"]).replace(b"\n", b" ") if "resource" in e else b'{"resourceType": null}') + b"\n"
                     for e in bundle.entry)
    return lines, len(bundle.entry)


def parse_bundles(paths: list[str], stage: str, tag: str, buckets: int, options: IngestOptions,
                  devices: dict[str, tuple[str, str]], sources: list[str] | None = None) -> tuple[int, int, int, pa.Table]:
    """Phase 1 for Bundle files: each entry's resource counts as a line (its 1-based entry number in its file).

    The entries are read as NDJSON lines (the plain line by Arrow's JSON reader), the files of the
    unit one after another, each line keeping its file and entry number. A file that is not a Bundle
    is one rejected line (``not_bundle``, line 0); so is a gzip file that is cut off
    (``truncated_file``) or damaged (``corrupt_file``), as its Bundle cannot be read.
    """
    sources = sources or list(paths)
    sink = _Sink(sources[0], Path(stage), tag, buckets, options)
    sink.files, sink.starts = [], []

    def blocks() -> Iterator[tuple[bytes, int]]:
        line = 1
        for path, source in zip(paths, sources, strict=True):
            lines, n = _bundle_lines(path)
            if isinstance(lines, Reject):  # the file is one rejected line, line 0
                sink.lines += 1
                sink.reject(0, lines, n, source=source)
                continue
            sink.files.append(source)
            sink.starts.append(line)
            line += n
            if n:
                yield lines, len(lines)

    sink._feed_blocks(ObservationParser(options, devices), blocks(), _Stream())
    return sink.result()


_DETAIL = {"superseded": "replaced by {s} line {ln}", "retracted": "withdrawn by {s} line {ln}",
           "entered_in_error": "withdraws its resource ({s} line {ln})"}
_REPLACES = frozenset({"amended", "corrected"})


def _versions(group: np.ndarray, withdrawn: np.ndarray, status: np.ndarray, version: np.ndarray, chash: np.ndarray,
              lkey: np.ndarray, reason: np.ndarray, first_idx: np.ndarray) -> None:
    """Settle the versions of each resource (lines of one identity group), in place.

    Versions are ordered by ``meta.versionId`` (numeric), else ``meta.lastUpdated``, when every line
    of the group has one, else by arrival (source, line). Walking them in order, with the line that
    currently stands: the same content again is a ``duplicate``; an ``amended`` or ``corrected``
    version, or any version after a ``preliminary`` one, replaces it (the earlier line ``superseded``);
    other content is an ``identifier_conflict`` (the later line rejected, the earlier stands); an
    ``entered-in-error`` line withdraws the resource (it is rejected as ``entered_in_error`` and every
    line standing before it as ``retracted``); a version after a withdrawal stands anew.
    """
    sizes = np.bincount(group, minlength=len(group))
    busy = np.flatnonzero((sizes[group] > 1) | withdrawn)
    if not len(busy):
        return
    members: dict[int, list[int]] = {}
    for i in busy.tolist():
        members.setdefault(int(group[i]), []).append(i)
    for ms in members.values():
        vs = [version[i] for i in ms]
        if all(isinstance(v, str) for v in vs) and len({v[:2] for v in vs}) == 1:
            ms.sort(key=lambda i: (version[i], lkey[i]))
        else:
            ms.sort(key=lambda i: lkey[i])
        current: int | None = None
        standing: list[int] = []
        for i in ms:
            if withdrawn[i]:
                reason[i], first_idx[i] = "entered_in_error", i
                for k in standing:
                    reason[k], first_idx[k] = "retracted", i
                current, standing = None, []
            elif current is None:
                current, standing = i, [i]
            elif chash[i] == chash[current]:
                reason[i], first_idx[i] = "duplicate", current
            elif status[i] in _REPLACES or status[current] == "preliminary":
                reason[current], first_idx[current] = "superseded", i
                standing = [k for k in standing if k != current] + [i]
                current = i
            else:
                reason[i], first_idx[i] = "identifier_conflict", current


#: Rows per Parquet row group of the output (the writer encodes one group at a time).
_ROW_GROUP = 64 * 1024


def _first_in_order(codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each element, the index of the element with the same code that comes first by ``order`` (unique keys)."""
    if not len(codes):
        return np.zeros(0, np.int64)
    if len(order) < 2 or bool(np.all(order[1:] > order[:-1])):  # already in order: one stable sort does
        o = np.argsort(codes, kind="stable")
    else:
        o = np.lexsort((order, codes))
    sc = codes[o]
    starts = np.r_[True, sc[1:] != sc[:-1]]
    head = o[np.maximum.accumulate(np.where(starts, np.arange(len(o)), 0))]
    out = np.empty(len(codes), np.int64)
    out[o] = head
    return out


def _identity_groups(patient: pa.Array, observation_id: pa.Array, identifier: pa.Array, lkey: np.ndarray) -> np.ndarray:
    """Each line's version group: the earliest line (by ``lkey``) it shares an identity key with, per patient.

    Identity keys are the resource id and every identifier (``system|value``), kept apart (an id never
    matches an identifier); a line with none is a group of its own.
    """
    n = len(lkey)
    group = np.arange(n, dtype=np.int64)
    has_id = pc.fill_null(pc.greater(pc.utf8_length(observation_id), 0), False).to_numpy(zero_copy_only=False)
    has_ident = pc.fill_null(pc.greater(pc.utf8_length(identifier), 0), False)
    multi = pc.fill_null(pc.match_substring(identifier, "\x1f"), False)
    single = pc.and_(has_ident, pc.invert(multi))
    idx = [np.flatnonzero(has_id), np.flatnonzero(single.to_numpy(zero_copy_only=False))]
    keys = [observation_id.filter(pa.array(has_id)), identifier.filter(single)]
    many = np.flatnonzero(multi.to_numpy(zero_copy_only=False))
    if len(many):  # several identifiers on a line (rare): split them here
        split = [(i, k) for i, ident in zip(many.tolist(), identifier.take(pa.array(many)).to_pylist(), strict=True)
                 for k in ident.split("\x1f")]
        idx.append(np.array([i for i, _k in split], np.int64))
        keys.append(pa.array([k for _i, k in split], pa.string()))
    at = np.concatenate(idx)
    if not len(at):
        return group
    # ids first, then identifiers (system|value), each kind matched on its own: an id never meets an identifier
    n_ids = len(keys[0])
    key_strings = pa.concat_arrays([k.cast(pa.string()) for k in keys])
    who = pc.fill_null(patient, "")

    def first_of(codes: np.ndarray) -> np.ndarray:  # per kind: ids in line order, identifiers (nearly) so
        pos = np.empty(len(at), np.int64)
        for a, z in ((0, n_ids), (n_ids, len(at))):
            if z > a:
                pos[a:z] = _first_in_order(codes[a:z], lkey[at[a:z]]) + a
        return pos

    # (patient, key) by its 64-bit hash; every match is then checked on the strings themselves, and a
    # collision (two keys, one hash) falls back to exact dictionary codes, so the groups are exact
    pos = first_of(_chain(_hash_strings(who)[at], _hash_strings(key_strings)))
    moved = np.flatnonzero(pos != np.arange(len(at)))
    if len(moved):
        this, head = pa.array(moved), pa.array(pos[moved])
        same = (pc.all(pc.equal(key_strings.take(this), key_strings.take(head))).as_py()
                and pc.all(pc.equal(who.take(pa.array(at[moved])), who.take(pa.array(at[pos[moved]])))).as_py())
        if not same:
            key_code = pc.dictionary_encode(key_strings).indices.to_numpy(zero_copy_only=False).astype(np.int64)
            n_keys = int(key_code.max()) + 1
            who_code = pc.dictionary_encode(who).indices.to_numpy(zero_copy_only=False).astype(np.int64)
            pos = first_of(who_code[at] * n_keys + key_code)  # (patient, key) within a kind, exactly
    first = at[pos]
    o = np.lexsort((lkey[first], at))  # per line, its keys' first lines from the earliest
    starts = np.r_[True, at[o][1:] != at[o][:-1]]
    group[at[o][starts]] = first[o][starts]
    return group


def finalize_bucket(stage_bucket: str, out_file: str, offsets: dict[str, int] | None = None) -> tuple[int, pa.Table]:
    """Phase 2 for one bucket: drop duplicate lines (earlier line wins), write the bucket; (rows kept, rejects).

    ``offsets`` shifts the range-relative line numbers of each staged part (by its work-unit
    tag) to file line numbers. Rows keep the order of the parts: source file, then line.
    """
    parts = []
    for f in sorted(Path(stage_bucket).glob("part-*.arrow")):  # (none where a damaged file's parts were withdrawn)
        part = pa.ipc.open_file(pa.memory_map(str(f))).read_all()  # the map lives as long as the table
        shift = (offsets or {}).get(f.stem[5:f.stem.rfind("-")], 0)
        if shift:
            part = part.set_column(part.schema.get_field_index("line"), "line", pc.add(part.column("line"), shift))
        parts.append(part)
    if not parts:
        return 0, REJECT_SCHEMA.empty_table()
    # Only the key columns are gathered in memory, and only for the lines that need them; the rows stay
    # mapped until they are written.
    keys = pa.concat_tables([p.select(["source", "line", "patient", "identifier", "observation_id", "content_hash",
                                       "vendor", "device_type", "status", "version_key"]) for p in parts])
    src = pc.dictionary_encode(keys.column("source").combine_chunks())
    rank = np.argsort(np.argsort(src.dictionary.to_numpy(zero_copy_only=False).astype(object), kind="stable"))
    src_code = rank[src.indices.to_numpy(zero_copy_only=False)].astype(np.int64)
    row_key = src_code * (1 << 40) + keys.column("line").to_numpy()
    new_line = np.r_[True, row_key[1:] != row_key[:-1]]  # the rows of a line stand together
    first_row = np.flatnonzero(new_line)
    every_row = len(first_row) == len(row_key)

    def per_line(name: str, rows: np.ndarray | None = None) -> pa.Array:
        """A key column, one value per line (``rows``: the first rows of some lines only)."""
        column = keys.column(name)
        if rows is not None:
            return column.take(pa.array(rows)).combine_chunks()
        return column.combine_chunks() if every_row else column.take(pa.array(first_row)).combine_chunks()

    lkey = row_key[first_row]
    n = len(lkey)
    reason = np.full(n, None, dtype=object)
    first_idx = np.arange(n, dtype=np.int64)
    # Identity: lines sharing any identity key are versions of one resource (see _identity_groups).
    group = _identity_groups(per_line("patient"), per_line("observation_id"), per_line("identifier"), lkey)
    status = per_line("status")
    withdrawn = pc.fill_null(pc.equal(status, "entered-in-error"), False).to_numpy(zero_copy_only=False)
    chash = per_line("content_hash").to_numpy(zero_copy_only=False)
    sizes = np.bincount(group, minlength=n)
    busy = np.flatnonzero((sizes[group] > 1) | withdrawn)
    if len(busy):  # versions: the status and version key of the lines concerned only
        status_of, version_of = np.full(n, None, object), np.full(n, None, object)
        status_of[busy] = status.take(pa.array(busy)).to_pylist()
        version_of[busy] = per_line("version_key", first_row[busy]).to_pylist()
        _versions(group, withdrawn, status_of, version_of, chash, lkey, reason, first_idx)
    rest = np.flatnonzero(reason == None)  # noqa: E711
    first = _first_in_order(chash[rest], lkey[rest])
    rep = first != np.arange(len(rest))
    reason[rest[rep]] = "duplicate_content"
    first_idx[rest[rep]] = rest[first[rep]]
    hit = np.flatnonzero(reason != None)  # noqa: E711
    at_hit, at_first = first_row[hit], first_row[first_idx[hit]]
    rej = pa.Table.from_arrays([
        per_line("source", at_hit), per_line("line", at_hit), pa.array(reason[hit].tolist(), pa.string()),
        pa.array([_DETAIL.get(r, "first at {s} line {ln}").format(s=s, ln=ln) for r, s, ln in
                  zip(reason[hit], per_line("source", at_first).to_pylist(), per_line("line", at_first).to_pylist(),
                      strict=True)], pa.string()),
        per_line("vendor", at_hit), per_line("device_type", at_hit), pa.array([""] * len(hit), pa.string()),
    ], schema=REJECT_SCHEMA)
    if len(hit):  # the rows of the rejected lines are left out
        dropped = np.zeros(n, bool)
        dropped[hit] = True
        keep = ~dropped[np.cumsum(new_line) - 1]
    else:
        keep = None
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    pieces, at = [], 0
    for part in parts:  # kept rows as zero-copy slices of the mapped parts: nothing is copied before the writer
        if keep is None:
            pieces.append(part)
            continue
        part_keep = keep[at: at + part.num_rows]
        at += part.num_rows
        edges = np.flatnonzero(np.diff(np.r_[0, part_keep.view(np.int8), 0]))
        pieces += [part.slice(a, z - a) for a, z in zip(edges[::2], edges[1::2], strict=True)]
    table = pa.concat_tables(pieces) if pieces else TIDY_SCHEMA.empty_table()
    kept = table.num_rows
    write_observation_file(table, out_file)
    return kept, rej


def write_observation_file(table: pa.Table, path: str | Path) -> None:
    """Write tidy rows (:data:`TIDY_SCHEMA`) as one Parquet file of the output, with the ingest's settings."""
    with pq.ParquetWriter(str(path), TIDY_SCHEMA, use_dictionary=_DICT_COLUMNS, compression="lz4") as writer:
        writer.write_table(table, row_group_size=_ROW_GROUP)


#: Runs work units: ``runner(fn, tasks) -> [fn(*task) for task in tasks]``, in any order of execution.
Runner = Callable[[Callable, list[tuple]], list]


def local_runner(workers: int = 1, threads: bool = False) -> Runner:
    """Run work units in this process (``workers`` <= 1) or on ``workers`` processes (``threads``: threads).

    The ingest asks for threads with the columnar path: Arrow's JSON reader, its compute functions and
    Parquet release the GIL for much of the work, and threads share one copy of the libraries and of
    the device map. Work that holds the GIL (the per-line parser, the simulator) wants processes.
    """

    def run(fn: Callable, tasks: list[tuple]) -> list:
        if workers <= 1 or len(tasks) <= 1:
            return [fn(*t) for t in tasks]
        pool = ThreadPoolExecutor(max_workers=workers) if threads else ProcessPoolExecutor(max_workers=workers)
        with pool:
            return list(pool.map(fn, *zip(*tasks, strict=True)))

    return run


def _buckets_for(total_bytes: int, rows_per_bucket: int) -> int:
    est_lines = max(1, total_bytes // 700)
    return int(max(1, min(4096, -(-est_lines // rows_per_bucket))))


def _check_inputs(paths: list[Path], out_dir: Path) -> None:
    """Refuse, before anything is written, inputs that are missing or lie inside ``out_dir`` (they would be replaced)."""
    out = out_dir.resolve()
    for p in paths:
        if p.is_dir():
            raise IsADirectoryError(f"{p}: a folder, not a file: give the files in it (a Bulk Data $export folder: "
                                    "ingest_bulk_export)")
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such input file")
        if out in p.resolve().parents:
            raise ValueError(f"{p}: an input inside the output folder {out_dir} would be replaced by the ingest")


#: The file that marks a folder as an ingest's output (so a later ingest may replace it), and what an output holds.
MARKER = ".kuntalib-ingest"
_OUTPUT = frozenset({MARKER, "observations", "rejects.parquet"})


def _check_out_dir(out_dir: Path) -> None:
    """Refuse, before anything is written, an ``out_dir`` that holds anything but an earlier ingest's output.

    The ingest replaces its output folder as a whole, so it writes only into a folder that is absent,
    empty, or an earlier output (marked by :data:`MARKER`; an output of a version before the marker is
    known by holding nothing but ``observations/`` and ``rejects.parquet``) with nothing else added.
    """
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: the output must be a folder; this is a file")
    names = {p.name for p in out_dir.iterdir()}
    other = sorted(names - _OUTPUT)
    if not other and names and MARKER not in names and names != _OUTPUT - {MARKER}:
        other = sorted(names)  # part of an output, without the marker: not known as the ingest's
    if other:
        raise FileExistsError(f"{out_dir}: the output folder holds files the ingest did not write ({', '.join(other[:5])}"
                              f"{', ...' if len(other) > 5 else ''}); the ingest replaces its output folder as a whole, "
                              "so give a new or empty folder, or move those files out")


def _swap_in(work: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished ``work`` folder; the old output is removed only once the new one is in place."""
    old = out_dir.with_name(out_dir.name + f".old-{os.getpid()}")
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(work, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _ingest(kind: str, paths: list[Path], out_dir: Path, options: IngestOptions, devices: dict[str, tuple[str, str]],
            workers: int, range_bytes: int, rows_per_bucket: int, runner: Runner | None = None,
            sources: list[str] | None = None) -> IngestResult:
    run = runner or local_runner(workers, threads=options.fast_path)
    out_dir = Path(out_dir)
    _check_inputs(paths, out_dir)
    _check_out_dir(out_dir)
    sources = sources or [str(p) for p in paths]
    if len(set(sources)) != len(sources):
        raise ValueError("two inputs have the same source id; give each file its own (source_ids=)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = out_dir.with_name(out_dir.name + f".tmp-{os.getpid()}")  # a failed call leaves the previous output intact
    shutil.rmtree(work, ignore_errors=True)
    stage = work / "stage"
    stage.mkdir(parents=True)
    try:
        result = _run_ingest(kind, paths, sources, work, stage, options, devices, workers, range_bytes, rows_per_bucket, run)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    (work / MARKER).write_text("The output of kuntalib.fhir.ingest: the next ingest into this folder replaces it.\n",
                               encoding="utf-8")
    _swap_in(work, out_dir)
    result.out_dir = out_dir
    return result


def _run_ingest(kind: str, paths: list[Path], sources: list[str], work: Path, stage: Path, options: IngestOptions,
                devices: dict[str, tuple[str, str]], workers: int, range_bytes: int, rows_per_bucket: int,
                run: Runner) -> IngestResult:
    buckets = _buckets_for(sum(os.path.getsize(p) for p in paths), rows_per_bucket)
    if workers > 1:
        buckets = max(buckets, workers)
    offsets: dict[str, int] = {}
    if kind == "ndjson":
        units = plan_units(paths, sources, range_bytes, workers)
        tasks = [(unit, str(stage), tag, buckets, options, devices) for tag, unit in units]
        results = [list(r) for r in run(parse_unit, tasks)]
        done: dict[str, int] = {}
        for (tag, unit), res in zip(units, results, strict=True):
            if len(unit) > 1:  # whole files: their lines are numbered in their files already
                offsets[tag] = 0
                continue
            file = tag.split("-")[0]  # the file's place among the inputs (one path may be given twice, as two sources)
            offsets[tag] = done.get(file, 0)
            done[file] = offsets[tag] + res[0]
            if res[3].num_rows and offsets[tag]:
                res[3] = res[3].set_column(1, "line", pc.add(res[3].column("line"), offsets[tag]))
    else:
        sizes = [os.path.getsize(p) for p in paths]
        groups = _pack(sizes, _share(sum(sizes), range_bytes, workers))
        tasks = [([str(paths[k]) for k in g], str(stage), f"{g[0]:04d}", buckets, options, devices, [sources[k] for k in g])
                 for g in groups]
        results = run(parse_bundles, tasks)
    lines = sum(r[1] for r in results)
    rejects = [r[3] for r in results]
    pa.default_memory_pool().release_unused()  # what the parse freed goes back to the system before the next phase
    bucket_dirs = sorted(stage.glob("bucket=*"))
    final = run(finalize_bucket, [(str(d), str(work / "observations" / d.name / "part-0.parquet"), offsets)
                                  for d in bucket_dirs])
    rows = sum(f[0] for f in final)
    rejects += [f[1] for f in final]
    rej = pa.concat_tables([REJECT_SCHEMA.empty_table(), *(r.cast(REJECT_SCHEMA) for r in rejects)]).combine_chunks()
    rej = rej.sort_by([("source", "ascending"), ("line", "ascending")])  # a stable sort: reasons keep their order
    pq.write_table(rej, work / "rejects.parquet")
    shutil.rmtree(stage)
    n_rej = rej.group_by(["source", "line"]).aggregate([]).num_rows
    return IngestResult(work, lines, lines - n_rej, n_rej, rows, rej, buckets)


def ingest_ndjson(paths: str | Path | Iterable[str | Path], out_dir: str | Path, *, options: IngestOptions | None = None,
                  devices: dict[str, tuple[str, str]] | None = None, workers: int = 1, range_bytes: int = 16 << 20,
                  rows_per_bucket: int = 50_000, runner: Runner | None = None,
                  source_ids: Iterable[str] | None = None) -> IngestResult:
    """Ingest Observation NDJSON files, plain or gzip (see module docstring). ``devices`` maps device ids to (vendor, type).

    Each file is known in the output by ``source_ids`` (one per path) or else by its path as given,
    never the bare file name (every site's bulk export is ``Observation.ndjson``). ``runner`` runs the
    work units elsewhere (e.g. :func:`kuntalib.fhir.scale.dask_runner`); the default is
    :func:`local_runner` with ``workers`` processes. ``out_dir`` must be on storage every worker sees;
    it is replaced only when the ingest succeeds; an input inside it, or a file in it that no ingest wrote (a
    researcher's notes, say), is refused before anything is written.
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return _ingest("ndjson", paths, Path(out_dir), options or IngestOptions(), devices or {}, workers, range_bytes,
                   rows_per_bucket, runner, list(source_ids) if source_ids is not None else None)


def ingest_bundles(paths: str | Path | Iterable[str | Path], out_dir: str | Path, *, options: IngestOptions | None = None,
                   devices: dict[str, tuple[str, str]] | None = None, workers: int = 1, range_bytes: int = 16 << 20,
                   rows_per_bucket: int = 50_000, runner: Runner | None = None,
                   source_ids: Iterable[str] | None = None) -> IngestResult:
    """Ingest Bundle JSON files; each entry counts as a line numbered by its position (a non-Bundle file: one rejected line).

    Consecutive files are read several to a work unit, up to ``range_bytes`` (see :func:`parse_bundles`).
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return _ingest("bundle", paths, Path(out_dir), options or IngestOptions(), devices or {}, workers, range_bytes,
                   rows_per_bucket, runner, list(source_ids) if source_ids is not None else None)


class BulkExportError(ValueError):
    """A FHIR Bulk Data export manifest that cannot be followed (names the manifest and the entry)."""


def _export_file(folder: Path, url: str, manifest: Path, where: str) -> Path:
    """The local file of a manifest ``url``: a relative path, a ``file://`` address, or a downloaded file by its name."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme in ("http", "https"):
        path = folder / Path(unquote(parsed.path)).name  # downloaded beside the manifest under its own name
    elif not parsed.scheme:
        path = (folder / url).resolve()
        if folder.resolve() not in path.parents:
            raise BulkExportError(f"{manifest}: {where}: {url!r} points outside the export folder")
    else:
        raise BulkExportError(f"{manifest}: {where}: unsupported address {url!r}")
    if not path.is_file():
        raise BulkExportError(f"{manifest}: {where}: {url!r} is not in the export folder ({path})")
    return path


def ingest_bulk_export(manifest: str | Path, out_dir: str | Path, **kwargs) -> IngestResult:
    """Ingest a FHIR Bulk Data ``$export`` output folder through its manifest.

    ``manifest`` is the manifest JSON (or the folder holding ``manifest.json``). Its ``output`` entries
    (``type``, ``url``, optional ``count``) are followed: ``Device`` files give the vendor and device
    type map, ``Observation`` files (``.ndjson`` or ``.ndjson.gz``) are ingested with their ``url``
    as source id. Every other type, every ``error`` file and every ``deleted`` file (resources deleted
    since ``_since``) is listed in ``notes`` as not ingested or applied; so is an output whose line
    count differs from its manifest ``count``, and a Device line that cannot be read. Two entries that
    are the same file here (downloads kept by name) are a ``BulkExportError``. Other keyword arguments
    go to :func:`ingest_ndjson`.
    """
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / "manifest.json"
    try:
        doc = orjson.loads(manifest.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise BulkExportError(f"{manifest}: not a readable Bulk Data manifest: {exc}") from None
    outputs = doc.get("output") if isinstance(doc, dict) else None
    if not isinstance(outputs, list):
        raise BulkExportError(f"{manifest}: no 'output' list (is this a $export manifest?)")
    folder = manifest.parent
    observations: list[tuple[Path, str, int | None]] = []
    device_files: list[Path] = []
    notes: list[str] = []
    local: dict[Path, str] = {}
    for k, entry in enumerate(outputs):
        where = f"output[{k}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) or not isinstance(entry.get("type"), str):
            raise BulkExportError(f"{manifest}: {where} needs 'type' and 'url'")
        path = _export_file(folder, entry["url"], manifest, where)
        if path.resolve() in local:  # e.g. .../1/Observation.ndjson and .../2/Observation.ndjson, downloaded by name
            raise BulkExportError(f"{manifest}: {where} ({entry['url']!r}) and {local[path.resolve()]} are the same file "
                                  f"here ({path}); keep each download under its own name")
        local[path.resolve()] = f"{where} ({entry['url']!r})"
        if entry["type"] == "Observation":
            observations.append((path, entry["url"], entry.get("count")))
        elif entry["type"] == "Device":
            device_files.append(path)
        else:
            notes.append(f"{entry['url']}: type {entry['type']} not ingested")
    for k, entry in enumerate(doc.get("error") or []):
        notes.append(f"{entry.get('url', f'error[{k}]') if isinstance(entry, dict) else f'error[{k}]'}: "
                     "an OperationOutcome file of the export, not ingested")
    for k, entry in enumerate(doc.get("deleted") or []):  # Bulk Data 2.0, an export with _since
        notes.append(f"{entry.get('url', f'deleted[{k}]') if isinstance(entry, dict) else f'deleted[{k}]'}: resources "
                     "deleted on the server since the export's _since, not applied (earlier ingests still hold them)")
    if not observations:
        raise BulkExportError(f"{manifest}: the export has no Observation output")
    skipped: list[str] = []  # Device lines that cannot be read: the export is still ingested, and they are noted
    devices = {**load_devices(device_files, skipped), **(kwargs.pop("devices", None) or {})}
    notes += [f"{s}: its observations get vendor and device type 'unknown'" for s in skipped]
    result = ingest_ndjson([p for p, _u, _c in observations], out_dir, devices=devices,
                           source_ids=[u for _p, u, _c in observations], **kwargs)
    lines_of = [result.reject_table.select(["source", "line"]), _observation_table(result.out_dir, ["source", "line"])]
    distinct = pa.concat_tables(lines_of).group_by(["source", "line"]).aggregate([])
    counts = distinct.group_by("source").aggregate([("line", "count")])
    per_source = dict(zip(counts.column("source").to_pylist(), counts.column("line_count").to_pylist(), strict=True))
    for _p, url, count in observations:
        seen = int(per_source.get(url, 0))
        if isinstance(count, int) and count != seen:
            notes.append(f"{url}: the manifest counts {count} resources, the file has {seen} lines")
    result.notes = notes
    return result
