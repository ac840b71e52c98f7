"""Columnar batches of parsed Observation lines: from the C fast path, from the per-line parser, and merged.

A :class:`Batch` holds one entry per accepted line (``lines``: the LINE_FIELDS of
:mod:`kuntalib.fhir.parse` as Arrow arrays) and one per value (``rows``: the ROW_FIELDS, with
``row_line`` giving each row's line index). The fast path (:mod:`kuntalib.fhir._scan`, built from
``_scan.c`` where a C compiler is found) turns the plain, common line into such columns without
making a Python object per field; every other line goes through
:class:`~kuntalib.fhir.parse.ObservationParser`, the reference implementation. The catalogue
step here (unit translation and plausibility, the rules of ``ObservationParser._value``) runs on
whole columns; a line it cannot settle (a unit it cannot translate, an implausible value) is
handed back to the reference parser, which gives the exact reason. So both paths give the same
answer for every line (the test suite compares them on random input).
"""

from __future__ import annotations

import functools
import locale
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kuntalib.fhir.catalogue import BY_LOINC, UnitError, convert_unit
from kuntalib.fhir.parse import LINE_FIELDS, ROW_FIELDS, VENDOR_SOURCE, IngestOptions, ObservationParser

try:  # the compiled fast path is optional: without it every line takes the reference parser
    from kuntalib.fhir import _scan
except ImportError:  # pragma: no cover - exercised where no C compiler was found at install
    _scan = None

__all__ = ["Batch", "NO_TIME", "FAST_PATH", "fast_path_usable", "LINE_TYPES", "ROW_TYPES", "from_tuples", "concat", "scan_block", "scan_settings",
           "device_arrays", "hash_strings", "zone_table"]

#: Whether the compiled scanner is available (``IngestOptions.fast_path`` uses it when :func:`fast_path_usable`).
FAST_PATH = _scan is not None


def fast_path_usable() -> bool:
    """Whether the compiled scanner may read numbers now: it is built and the process's numeric locale writes
    decimals with a point (the C library's ``strtod`` follows that locale: after
    ``locale.setlocale(locale.LC_ALL, "fi_FI.UTF-8")`` it would read ``80.5`` as 80)."""
    return FAST_PATH and locale.localeconv()["decimal_point"] == "."

LINE_TYPES: dict[str, pa.DataType] = {
    "line": pa.int64(), "observation_id": pa.string(), "identifier": pa.string(), "patient": pa.string(),
    "device": pa.string(), "vendor": pa.string(), "device_type": pa.string(), "effective": pa.string(),
    "period_end": pa.string(), "issued": pa.string(), "synthetic": pa.bool_(), "precision": pa.string(),
    "status": pa.string(), "components_skipped": pa.int32(), "version": pa.string(),
}
ROW_TYPES: dict[str, pa.DataType] = {
    "panel": pa.string(), "code": pa.string(), "value": pa.float64(), "unit": pa.string(), "comparator": pa.string(),
    "absent_reason": pa.string(), "unit_translated": pa.bool_(), "catalogued": pa.bool_(),
}
assert tuple(LINE_TYPES) == LINE_FIELDS and tuple(ROW_TYPES) == ROW_FIELDS
_SCAN_LINE = ("observation_id", "identifier", "patient", "device", "effective", "period_end", "issued", "source", "status",
              "version")
_SCAN_ROW = ("panel", "code", "unit", "comparator")
_PRECISION = pa.array([None, "second", "fraction"], pa.string())


#: In :attr:`Batch.utc`: a time that is absent, or that the scanner left to the general conversion.
NO_TIME = np.iinfo(np.int64).min


@dataclass
class Batch:
    """Accepted lines as columns: ``lines`` (LINE_FIELDS), ``rows`` (ROW_FIELDS) and ``row_line`` (row -> line index).

    ``utc`` holds, per line, the start, period end and issued time as microseconds since the epoch
    where the scanner computed them (times with an offset, and local times it read in the assumed
    zone), else :data:`NO_TIME`; the ingest converts the rest from the strings. ``naive`` marks, per
    line, the start (bit 0) and period end (bit 1) the scanner read as local times.
    """

    lines: dict[str, pa.Array]
    rows: dict[str, pa.Array]
    row_line: np.ndarray
    utc: np.ndarray
    #: Lines to leave out of the output (handed to the reference parser instead); None: none.
    drop: np.ndarray | None = None
    naive: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.naive is None:
            self.naive = np.zeros(len(self.utc), np.uint8)

    def __len__(self) -> int:
        return len(self.lines["line"])


def empty() -> Batch:
    """A batch of no lines, with the column types."""
    return Batch({k: pa.array([], t) for k, t in LINE_TYPES.items()}, {k: pa.array([], t) for k, t in ROW_TYPES.items()},
                 np.zeros(0, np.int64), np.zeros((0, 3), np.int64))


def from_tuples(line_no: list[int], heads: list[tuple], values: list[tuple], row_line: list[int]) -> Batch:
    """A batch from the reference parser's output (one head tuple per line, one value tuple per row)."""
    if not heads:
        return empty()
    lines = {"line": pa.array(line_no, pa.int64())}
    for name, col in zip(LINE_FIELDS[1:], zip(*heads, strict=True), strict=True):
        lines[name] = pa.array(col, LINE_TYPES[name])
    rows = {name: pa.array(col, ROW_TYPES[name]) for name, col in zip(ROW_FIELDS, zip(*values, strict=True), strict=True)}
    return Batch(lines, rows, np.asarray(row_line, dtype=np.int64), np.full((len(heads), 3), NO_TIME, np.int64))


def concat(batches: list[Batch]) -> Batch:
    """One batch of several, in the order given (the ingest orders rows by line when it writes them)."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return empty()
    if len(batches) == 1:
        b = batches[0]
    else:
        shift = np.cumsum([0] + [len(b) for b in batches[:-1]])
        b = Batch({k: pa.concat_arrays([x.lines[k] for x in batches]) for k in LINE_TYPES},
                  {k: pa.concat_arrays([x.rows[k] for x in batches]) for k in ROW_TYPES},
                  np.concatenate([x.row_line + s for x, s in zip(batches, shift, strict=True)]),
                  np.concatenate([x.utc for x in batches]),
                  None if all(x.drop is None for x in batches)
                  else np.concatenate([np.zeros(len(x), bool) if x.drop is None else x.drop for x in batches]),
                  np.concatenate([x.naive for x in batches]))
    return b


def _strings(col: tuple) -> pa.Array:
    n, offsets, data, valid = col
    v = np.frombuffer(valid, np.uint8)
    mask = None if v.all() else pa.py_buffer(np.packbits(v, bitorder="little"))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), mask)


def hash_strings(arr: pa.Array) -> np.ndarray:
    """A deterministic 64-bit hash (uint64) of each string of an Arrow array, whatever else is in the array.

    The value is ``pandas.util.hash_array`` of the string's UTF-8 text (SipHash-2-4 with pandas' fixed
    key, then its spread), computed by pandas a distinct value at a time: the same in every process, on
    every machine. A null hashes as the one-character string ``"\\0"``.
    """
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    if len(arr) == 0:
        return np.zeros(0, np.uint64)
    enc = pc.dictionary_encode(pc.fill_null(arr, "\0"))
    uniq = enc.dictionary.to_numpy(zero_copy_only=False).astype(object)
    return pd.util.hash_array(uniq, categorize=False)[enc.indices.to_numpy(zero_copy_only=False)]


@functools.lru_cache(maxsize=8)
def zone_table(zone: str, step_hours: int = 12) -> bytes:
    """The UTC offsets of ``zone`` from 1900 to 2037 as the scanner takes them: bytes of 2m + 1 int64.

    The m instants (UTC seconds, ascending) at which the offset changes, then the m + 1 offsets
    (seconds): before the first change and after each. They come from Arrow's time-zone rules, the
    ones :func:`kuntalib.fhir.ingest._cast_utc` applies to the same times: the offset is read every
    ``step_hours`` and each change is then found to the second by bisection (changes are months apart;
    for every zone of the tz database 12 hours gives the same table as reading it every hour).
    """
    lo = int(np.datetime64("1899-12-25", "s").astype(np.int64))
    hi = int(np.datetime64("2038-01-08", "s").astype(np.int64))
    grid = np.arange(lo, hi, step_hours * 3600, dtype=np.int64)

    def offsets(seconds: np.ndarray) -> np.ndarray:
        local = pc.local_timestamp(pa.array(seconds, pa.timestamp("s", tz=zone)))
        return local.cast(pa.int64()).to_numpy(zero_copy_only=False) - seconds

    off = offsets(grid)
    k = np.flatnonzero(off[1:] != off[:-1]) + 1
    old, new, target = grid[k - 1], grid[k], off[k]  # the change lies in (old, new]
    while len(k) and bool(np.any(new - old > 1)):
        mid = (old + new) // 2
        moved = offsets(mid) == target
        new, old = np.where(moved, mid, new), np.where(moved, old, mid)
    return np.concatenate([new, off[:1], target]).astype(np.int64).tobytes()


def _zone_table_or_none(zone: str | None) -> bytes | None:
    """:func:`zone_table`, or None where Arrow does not know the zone (its local times then take the general conversion)."""
    if zone is None:
        return None
    try:
        return zone_table(zone)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


#: The catalogue as the scanner takes it: (LOINC code, canonical unit, plausible low, high).
_CATALOGUE = tuple((m.loinc, m.unit, float(m.plausible[0]), float(m.plausible[1])) for m in BY_LOINC.values())


def scan_settings(options: IngestOptions) -> tuple:
    """The scanner's arguments after ``max_lines`` for ``options``: (naive_ok, catalogue, plausibility[, zone table])."""
    zone = options.assume_timezone
    table = _zone_table_or_none(zone)
    return (zone is not None, _CATALOGUE, options.plausibility, *((table,) if table else ()))


def _catalogue(code: pa.Array, value: np.ndarray, unit: pa.Array, flags: np.ndarray, parser: ObservationParser
               ) -> tuple[np.ndarray, pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Unit translation and plausibility for the scanner's rows, by the reference parser's rule.

    The scanner flags each value: catalogued (1) and, among those, a unit other than the canonical one
    (2); it has already left a canonical value outside the plausible range to the reference parser.
    The flagged values are translated a (code, unit) pair at a time with the rule of
    :meth:`ObservationParser.canonical` (:func:`~kuntalib.fhir.catalogue.convert_unit` and
    :meth:`ObservationParser.implausible`, both of which take whole arrays). Returns (value, unit,
    translated, catalogued, unsettled): ``unsettled`` marks rows the reference parser must judge (a
    unit it cannot translate, a translated value outside the plausible range).
    """
    catalogued = (flags & 1).astype(bool)
    translated = np.zeros(len(value), bool)
    unsettled = np.zeros(len(value), bool)
    change = np.flatnonzero(flags & 2)
    if not len(change):
        return value, unit, translated, catalogued, unsettled
    value = value.copy()
    at = pa.array(change)
    # one group per (code, unit); a missing unit translates as the empty one, as in canonical()
    pair = pc.binary_join_element_wise(code.take(at), pc.fill_null(unit.take(at), ""), "\x00")
    enc = pc.dictionary_encode(pair)
    group = enc.indices.to_numpy(zero_copy_only=False)
    targets = np.empty(len(change), object)
    for g, text in enumerate(enc.dictionary.to_pylist()):  # a handful of pairs
        c, u = text.split("\x00", 1)
        members = group == g
        rows = change[members]
        measure = BY_LOINC[c]
        targets[members] = measure.unit
        try:
            converted, was = convert_unit(value[rows], u, measure)
        except UnitError:
            unsettled[rows] = True
            continue
        value[rows] = converted
        translated[rows] = was
        unsettled[rows] = parser.implausible(c, converted)
    mask = np.zeros(len(value), bool)
    mask[change] = True
    unit = pc.replace_with_mask(unit, pa.array(mask), pa.array(targets, pa.string()))
    return value, unit, translated, catalogued, unsettled


def device_arrays(devices: dict[str, tuple[str, str]]) -> tuple[pa.Array, pa.Array, pa.Array] | None:
    """The device map as Arrow arrays (ids, vendors, types) for :func:`scan_block`; None for an empty map."""
    if not devices:
        return None
    return (pa.array(list(devices), pa.string()), pa.array([v[0] for v in devices.values()], pa.string()),
            pa.array([v[1] for v in devices.values()], pa.string()))


def scan_block(buf: bytes, start: int, end: int, first_line: int, max_lines: int, parser: ObservationParser,
               devices: tuple[pa.Array, pa.Array, pa.Array] | None) -> tuple[int, int, int, Batch, list[tuple[int, int, int]]]:
    """Scan the lines of ``buf[start:end]`` numbered from ``first_line`` (at most ``max_lines`` physical lines).

    ``parser`` is the reference parser whose options apply. Times without an offset take the fast
    path only when ``assume_timezone`` is set: they are read in that zone (by the scanner with
    :func:`zone_table` where it can, else by the ingest) and flagged, as the reference parser's are.
    ``devices`` is the device map from :func:`device_arrays`.

    Returns (offset reached, non-blank lines, last line number, the batch of fast lines, and
    (line, start, end) of every line left to the reference parser).
    """
    (reached, n_lines, last, line_no, span, utc, naive, synthetic, precision, lcols, row_line, value, flags, rcols,
     slow) = _scan.scan(buf, start, end, first_line, max_lines, *scan_settings(parser.options))
    slow_lines = [tuple(r) for r in np.frombuffer(slow, np.int64).reshape(-1, 3).tolist()]
    n = len(line_no) // 8
    if n == 0:
        return reached, n_lines, last, empty(), slow_lines
    s = dict(zip(_SCAN_LINE, (_strings(c) for c in lcols), strict=True))
    r = dict(zip(_SCAN_ROW, (_strings(c) for c in rcols), strict=True))
    row_line = np.frombuffer(row_line, np.int64)
    code = r["code"]
    # + 0.0: minus zero is zero (the reference parser's rule, so "value":-0 and "value":0 are the same content)
    values, unit, translated, catalogued, unsettled = _catalogue(code, np.frombuffer(value, np.float64) + 0.0, r["unit"],
                                                                 np.frombuffer(flags, np.uint8), parser)
    device = s["device"]
    if devices is not None:
        ids, vendors, types = devices
        at = pc.index_in(device, value_set=ids)
        vendor = pc.fill_null(vendors.take(at), "unknown")
        device_type = pc.fill_null(types.take(at), "unknown")
    else:
        vendor = pa.array(np.full(n, "unknown", object), pa.string())
        device_type = vendor
    source = s["source"]
    from_source = pc.fill_null(pc.and_(pc.equal(vendor, "unknown"), pc.starts_with(source, VENDOR_SOURCE)), False)
    if pc.any(from_source).as_py():
        vendor = pc.if_else(from_source, pc.utf8_slice_codeunits(source, len(VENDOR_SOURCE)), vendor)
    lines = {
        "line": pa.array(np.frombuffer(line_no, np.int64)), "observation_id": s["observation_id"],
        "identifier": s["identifier"], "patient": s["patient"], "device": device, "vendor": vendor,
        "device_type": device_type, "effective": s["effective"], "period_end": s["period_end"], "issued": s["issued"],
        "synthetic": pa.array(np.frombuffer(synthetic, np.uint8).astype(bool)),
        "precision": _PRECISION.take(pa.array(np.frombuffer(precision, np.uint8))),
        "status": s["status"], "components_skipped": pa.array(np.zeros(n, np.int32)), "version": s["version"],
    }
    rows = {"panel": r["panel"], "code": code, "value": pa.array(values), "unit": unit, "comparator": r["comparator"],
            "absent_reason": pa.nulls(len(values), pa.string()), "unit_translated": pa.array(translated),
            "catalogued": pa.array(catalogued)}
    batch = Batch(lines, rows, row_line.copy(), np.frombuffer(utc, np.int64).reshape(-1, 3),
                  naive=np.frombuffer(naive, np.uint8))
    if unsettled.any():  # hand these lines to the reference parser
        bad_lines = np.unique(row_line[unsettled])
        spans = np.frombuffer(span, np.int64).reshape(-1, 2)
        numbers = np.frombuffer(line_no, np.int64)
        slow_lines = sorted(slow_lines + [(int(numbers[i]), int(spans[i, 0]), int(spans[i, 1])) for i in bad_lines])
        batch.drop = np.zeros(n, bool)
        batch.drop[bad_lines] = True
    return reached, n_lines, last, batch, slow_lines
