"""Observation lines into columns by Arrow's JSON reader, checked as whole columns; the rest left to the reference parser.

A block of NDJSON lines is read by :func:`pyarrow.json.read_json` (C++, on Arrow's threads, the GIL
released) into the structure of :mod:`kuntalib.fhir.parse`'s msgspec structs (:data:`READ_SCHEMA`
is derived from them, never written twice). Only lines that start with ``{`` and end with ``}`` and
nest shallowly are given to it, so that the rows it reads are the lines, one each (:func:`_plain`).
Arrow's reader is strict where FHIR is: a JSON type that does not fit, invalid UTF-8 (but for encoded
surrogates) and a key named twice in any object (every field is read, ``infer``) fail the read, which
is then halved until ranges of :data:`_SMALLEST` lines, whose lines go to the reference parser.
:func:`read_lines` then takes a line only where whole-column checks show that
:class:`~kuntalib.fhir.parse.ObservationParser` accepts it and reads the same values: the plain,
common line (a LOINC-coded quantity or panel of them, a ``Patient/<id>`` subject, full timestamps).
These checks are a conservative filter, not the rules: every other line, and every line a check cannot
settle (a unit the catalogue cannot translate, an implausible value), goes to the reference parser,
which names the reason. The test suite holds the two to the same answer line by line (random mutations
of real lines) and file by file.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from kuntalib.fhir.catalogue import BY_LOINC, LOINC, UnitError, convert_unit
from kuntalib.fhir.parse import (
    LINE_SCHEMA,
    OK_STATUS,
    ROW_SCHEMA,
    SYNTHETIC_TAGS,
    VENDOR_SOURCE,
    ObservationParser,
    _Observation,
)

__all__ = ["Batch", "READ_SCHEMA", "arrow_type", "read_lines", "empty", "from_tuples", "concat", "device_arrays", "hash_strings"]


def arrow_type(info: msgspec.inspect.Type) -> pa.DataType:
    """The Arrow type of a msgspec type (strings, numbers, booleans, structs, lists, optional ones)."""
    if isinstance(info, msgspec.inspect.UnionType):
        (inner,) = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        return arrow_type(inner)
    if isinstance(info, msgspec.inspect.StructType):
        return pa.struct([(f.encode_name, arrow_type(f.type)) for f in info.fields])
    if isinstance(info, msgspec.inspect.ListType):
        return pa.list_(arrow_type(info.item_type))
    return {msgspec.inspect.StrType: pa.string(), msgspec.inspect.FloatType: pa.float64(),
            msgspec.inspect.IntType: pa.int64(), msgspec.inspect.BoolType: pa.bool_()}[type(info)]


#: The reference parser's structure of an Observation as an Arrow schema: what Arrow's reader reads.
READ_SCHEMA = pa.schema(list(arrow_type(msgspec.inspect.type_info(_Observation))))
#: Every field is read (``infer``), so that a key named twice anywhere fails the read.
_PARSE = pj.ParseOptions(explicit_schema=READ_SCHEMA, unexpected_field_behavior="infer")
_READ = pj.ReadOptions(block_size=1 << 20)  # a line longer than a block is left to the reference parser
_SMALLEST = 8  # a range of this many lines that Arrow cannot read goes to the reference parser as it is
#: Deeper nesting is left to the reference parser: a line with more opening brackets is not given to Arrow, and a
#: range Arrow reads into deeper types is halved as if refused.
_MAX_DEPTH, _MAX_BRACKETS = 32, 256
#: The statuses a line is taken with (an entered-in-error line withdraws its resource: the reference parser's).
_TAKEN_STATUS = pa.array(sorted(OK_STATUS - {"entered-in-error"}))
_DAY_CLOCK = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?"
_TIME, _TIME_ZONED = _DAY_CLOCK + r"(Z|[+-](0\d|1[0-4]):[0-5]\d)?$", _DAY_CLOCK + r"(Z|[+-](0\d|1[0-4]):[0-5]\d)$"


@dataclass
class Batch:
    """Accepted lines as columns: ``lines`` (:data:`~kuntalib.fhir.parse.LINE_SCHEMA`), ``rows``
    (:data:`~kuntalib.fhir.parse.ROW_SCHEMA`) and ``row_line`` (each row's line index)."""

    lines: dict[str, pa.Array]
    rows: dict[str, pa.Array]
    row_line: np.ndarray

    def __len__(self) -> int:
        return len(self.lines["line"])


def empty() -> Batch:
    """A batch of no lines, with the column types."""
    return Batch({f.name: pa.array([], f.type) for f in LINE_SCHEMA}, {f.name: pa.array([], f.type) for f in ROW_SCHEMA},
                 np.zeros(0, np.int64))


def from_tuples(line_no: list[int], heads: list[tuple], values: list[tuple], row_line: list[int]) -> Batch:
    """A batch from the reference parser's output (one head tuple per line, one value tuple per row)."""
    if not heads:
        return empty()
    lines = {"line": pa.array(line_no, pa.int64())}
    for f, col in zip(list(LINE_SCHEMA)[1:], zip(*heads, strict=True), strict=True):
        lines[f.name] = pa.array(col, f.type)
    rows = {f.name: pa.array(col, f.type) for f, col in zip(ROW_SCHEMA, zip(*values, strict=True), strict=True)}
    return Batch(lines, rows, np.asarray(row_line, dtype=np.int64))


def concat(batches: list[Batch]) -> Batch:
    """One batch of several, in the order given (the ingest orders rows by line when it writes them)."""
    batches = [b for b in batches if len(b)]
    if len(batches) <= 1:
        return batches[0] if batches else empty()
    shift = np.cumsum([0] + [len(b) for b in batches[:-1]])
    return Batch({k: pa.concat_arrays([x.lines[k] for x in batches]) for k in LINE_SCHEMA.names},
                 {k: pa.concat_arrays([x.rows[k] for x in batches]) for k in ROW_SCHEMA.names},
                 np.concatenate([x.row_line + s for x, s in zip(batches, shift, strict=True)]))


def hash_strings(arr: pa.Array) -> np.ndarray:
    """A deterministic 64-bit hash (uint64) of each string of an Arrow array: ``pandas.util.hash_array`` of its
    text (SipHash-2-4 with pandas' fixed key), a distinct value at a time; a null hashes as ``"\\0"``."""
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    if len(arr) == 0:
        return np.zeros(0, np.uint64)
    enc = pc.dictionary_encode(pc.fill_null(arr, "\0"))
    uniq = enc.dictionary.to_numpy(zero_copy_only=False).astype(object)
    return pd.util.hash_array(uniq, categorize=False)[enc.indices.to_numpy(zero_copy_only=False)]


def device_arrays(devices: dict[str, tuple[str, str]]) -> tuple[pa.Array, pa.Array, pa.Array] | None:
    """The device map as Arrow arrays (ids, vendors, types) for :func:`read_lines`; None for an empty map."""
    if not devices:
        return None
    return (pa.array(list(devices), pa.string()), pa.array([v[0] for v in devices.values()], pa.string()),
            pa.array([v[1] for v in devices.values()], pa.string()))


def _non_finite(arr: pa.Array) -> np.ndarray:
    """Per element, whether a number in it, at any depth, is NaN or infinite (Arrow reads ``NaN`` and ``Infinity``,
    which are not JSON, and a number too large for a double). Only the number columns are looked at."""
    kind = arr.type
    out = np.zeros(len(arr), bool)
    if pa.types.is_floating(kind):
        out = ~np.isfinite(arr.to_numpy(zero_copy_only=False)) & _valid(pc.is_valid(arr))
    elif pa.types.is_struct(kind):
        for k, f in enumerate(kind):
            if _has_float(f.type):
                out |= _non_finite(pc.struct_field(arr, [k]))
    elif pa.types.is_list(kind) and _has_float(kind.value_type):
        out[pc.list_parent_indices(arr).to_numpy()[_non_finite(pc.list_flatten(arr))]] = True
    return out


def _has_float(kind: pa.DataType) -> bool:
    return (pa.types.is_floating(kind) or (pa.types.is_struct(kind) and any(_has_float(f.type) for f in kind))
            or (pa.types.is_list(kind) and _has_float(kind.value_type)))


def _not_utf8(view: memoryview, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which lines are not UTF-8 (Arrow lets some through, such as an encoded surrogate)."""
    out = np.zeros(len(starts), bool)
    pos, hi = int(starts[0]), int(ends[-1])
    while pos < hi:
        try:
            codecs.utf_8_decode(view[pos:hi], "strict", True)
            break
        except UnicodeDecodeError as exc:
            k = int(np.searchsorted(starts, pos + exc.start, side="right")) - 1
            out[k] = True
            pos = int(ends[k]) + 1
    return out


def _engine(buf: bytes | bytearray, starts: np.ndarray, ends: np.ndarray) -> tuple[pa.Table | None, np.ndarray]:
    """Arrow's reading of the lines ``buf[starts[i]:ends[i]]`` (consecutive, non-blank): (table, line index of each row).

    Only runs of :func:`_plain` lines are read. A range Arrow cannot read, or reads as another number
    of rows than it has lines, is halved until it is read; a range of at most :data:`_SMALLEST` lines
    that still is not, is left out. So is a line where Arrow allows what the reference parser does not
    (:func:`_odd`).
    """
    plain = _plain(buf, starts, ends)
    edges = np.flatnonzero(np.diff(np.r_[0, plain.view(np.int8), 0]))
    tables, taken, todo = [], [], [(int(a), int(b)) for a, b in zip(edges[-2::-2], edges[::-2], strict=True)]
    view = memoryview(buf)
    try:
        while todo:
            a, b = todo.pop()
            try:  # (an error's text, or a field's name, may hold bytes that are not UTF-8)
                table = pj.read_json(pa.BufferReader(view[starts[a]:ends[b - 1]]), read_options=_READ, parse_options=_PARSE)
                shallow = max(_depth(f.type) for f in table.schema) <= _MAX_DEPTH
                odd = _odd(table, view, starts[a:b], ends[a:b]) if table.num_rows == b - a and shallow else None
            except (pa.ArrowException, UnicodeDecodeError, RecursionError):
                odd = None
            if odd is not None and not odd.all():
                table = table.select(READ_SCHEMA.names)
                tables.append(table.filter(pa.array(~odd)) if odd.any() else table)
                taken.append(np.flatnonzero(~odd) + a)
            elif odd is None and b - a > _SMALLEST:
                m = (a + b) // 2
                todo += [(m, b), (a, m)]  # the first half first: rows stay in line order
    finally:
        view.release()
    if not tables:
        return None, np.zeros(0, np.int64)
    if len(tables) > 1:  # the fields inferred beside ours may differ between ranges: they go
        tables = [t.cast(READ_SCHEMA) for t in tables]
    return pa.concat_tables(tables).combine_chunks(), np.concatenate(taken)


def _plain(buf: bytes | bytearray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which lines Arrow's reader is given: those that start with ``{`` and end with ``}`` (white space aside; so each
    holds one object or more, and no object spans lines: then as many rows as lines means one object a line), shorter
    than a read block, with at most :data:`_MAX_BRACKETS` opening brackets (Arrow's type inference slows with the
    square of the nesting depth, and the depth is at most the brackets)."""
    data = np.frombuffer(buf, np.uint8)
    length = ends - starts
    plain = (data[starts] == 0x7B) & (data[ends - 1] == 0x7D) & (length < _READ.block_size)
    for k in np.flatnonzero(~plain & (length < _READ.block_size)).tolist():  # white space at an end (\r\n, say)
        text = bytes(buf[starts[k]:ends[k]]).strip()
        plain[k] = text[:1] == b"{" and text[-1:] == b"}"
    lo, hi = int(starts[0]), int(ends[-1])
    brackets = np.flatnonzero((data[lo:hi] == 0x7B) | (data[lo:hi] == 0x5B)) + lo
    return plain & (np.diff(np.searchsorted(brackets, np.r_[starts, hi])) <= _MAX_BRACKETS)


def _depth(kind: pa.DataType) -> int:
    """How deep a type nests (a string: 0)."""
    if pa.types.is_struct(kind):
        return 1 + max((_depth(f.type) for f in kind), default=0)
    return 1 + _depth(kind.value_type) if pa.types.is_list(kind) else 0


def _odd(table: pa.Table, view: memoryview, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which rows of Arrow's reading of the lines are what the reference parser refuses and Arrow allows: ``null``,
    ``NaN``/``Infinity`` (and a number too large), bytes that are not UTF-8."""
    odd = _not_utf8(view, starts, ends) | _nulls(view.obj, starts, ends)
    for column in table.itercolumns():
        if _has_float(column.type):
            odd |= np.concatenate([_non_finite(chunk) for chunk in column.chunks])
    return odd


def _nulls(buf: bytes | bytearray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which lines hold ``null``: the reference parser's structs refuse one where a list or the resource type is due,
    and Arrow reads it as absent."""
    out = np.zeros(len(starts), bool)
    at, hi = buf.find(b"null", int(starts[0]), int(ends[-1])), int(ends[-1])
    while at >= 0:
        k = int(np.searchsorted(starts, at, side="right")) - 1
        out[k] = True
        at = buf.find(b"null", max(int(ends[k]), at + 1), hi)
    return out


def _valid(arr: np.ndarray | pa.Array) -> np.ndarray:
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


def _times_ok(text: pa.Array, zoned: bool) -> np.ndarray:
    """Which strings are full FHIR timestamps the reference accepts as they stand: a real date (not year 0), a clock time
    to 23:59:59 (a leap second is left to it), an offset to ±14:59; with ``zoned``, only with an offset."""
    ok = _valid(pc.match_substring_regex(text, _TIME_ZONED if zoned else _TIME))
    late = np.flatnonzero(ok & _valid(pc.greater_equal(pc.utf8_slice_codeunits(text, 8, 10), "29")))
    if len(late):  # the 29th to 31st: is it a day of that month?
        day = pc.utf8_slice_codeunits(text.take(pa.array(late)), 0, 10)
        ok[late] = _valid(pc.equal(pc.strftime(pc.strptime(day, "%Y-%m-%d", "s", error_is_null=True), "%Y-%m-%d"), day))
    return ok & ~_valid(pc.starts_with(text, "0000"))


def _first_loinc(coding: pa.Array) -> pa.Array:
    """Per list of codings, the code of the first LOINC coding with a code (null where none)."""
    flat = pc.list_flatten(coding)
    code = pc.struct_field(flat, "code")
    hit = np.flatnonzero(_valid(pc.and_(pc.equal(pc.struct_field(flat, "system"), LOINC),
                                        pc.greater(pc.utf8_length(code), 0))))
    parent = pc.list_parent_indices(coding).to_numpy()[hit]
    first, at = np.unique(parent, return_index=True)
    pick = np.full(len(coding), -1, np.int64)
    pick[first] = hit[at]
    return code.take(pa.array(pick, mask=pick < 0))


def _last(lists: pa.Array) -> pa.Array:
    """Per list, its last element (null for an empty or null list)."""
    parent = pc.list_parent_indices(lists).to_numpy()
    pick = np.full(len(lists), -1, np.int64)
    pick[parent] = np.arange(len(parent))
    return pc.list_flatten(lists).take(pa.array(pick, mask=pick < 0))


def _any_of(values: pa.Array, lists: pa.Array, wanted: pa.Array) -> np.ndarray:
    """Per list, whether any of its ``values`` (flattened alongside) is one of ``wanted``."""
    hit = np.flatnonzero(_valid(pc.is_in(values, value_set=wanted)))
    out = np.zeros(len(lists), bool)
    out[pc.list_parent_indices(lists).to_numpy()[hit]] = True
    return out


def _catalogue(code: pa.Array, value: np.ndarray, unit: pa.Array, parser: ObservationParser
               ) -> tuple[np.ndarray, pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Unit translation and plausibility of whole columns by :meth:`ObservationParser.canonical`'s rule, a (code, unit)
    pair at a time: (value, unit, translated, catalogued, unsettled), where ``unsettled`` marks the rows whose
    line the reference parser must judge (a unit it cannot translate, an implausible value)."""
    catalogued = _valid(pc.is_in(code, value_set=pa.array(list(BY_LOINC))))
    translated = np.zeros(len(value), bool)
    unsettled = np.zeros(len(value), bool)
    rows = np.flatnonzero(catalogued)
    if not len(rows):
        return value, unit, translated, catalogued, unsettled
    value, targets = value.copy(), np.empty(len(rows), object)
    codes, units = pc.dictionary_encode(code.take(pa.array(rows))), pc.dictionary_encode(unit.take(pa.array(rows)))
    code_names, unit_names = codes.dictionary.to_pylist(), [None, *units.dictionary.to_pylist()]  # 0: no unit
    pair = (codes.indices.to_numpy(zero_copy_only=False).astype(np.int64) * len(unit_names)
            + pc.fill_null(units.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1)
    for key in np.unique(pair).tolist():  # a handful of pairs
        members = pair == key
        at = rows[members]
        c, u = code_names[key // len(unit_names)], unit_names[key % len(unit_names)]
        measure = BY_LOINC[c]
        targets[members] = measure.unit
        if u != measure.unit:
            try:
                value[at], translated[at] = convert_unit(value[at], u or "", measure)
            except UnitError:
                unsettled[at] = True
                continue
        unsettled[at] = parser.implausible(c, value[at])
    mask = np.zeros(len(value), bool)
    mask[rows] = True
    unit = pc.replace_with_mask(unit, pa.array(mask), pa.array(targets, pa.string()))
    return value, unit, translated, catalogued, unsettled


def _quantity_rows(q: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """(value, unit, comparator) of Quantity structs: the UCUM code where the system is UCUM's or absent, else the unit text."""
    value = pc.struct_field(q, "value").to_numpy(zero_copy_only=False).astype(np.float64) + 0.0  # minus zero is zero
    system = pc.struct_field(q, "system")
    ucum = pc.and_(pc.greater(pc.utf8_length(pc.struct_field(q, "code")), 0),
                   pc.or_(pc.is_null(system), pc.fill_null(pc.match_substring(system, "unitsofmeasure"), False)))
    unit = pc.if_else(pc.fill_null(ucum, False), pc.struct_field(q, "code"), pc.struct_field(q, "unit"))
    return value, unit, pc.struct_field(q, "comparator")


def read_lines(buf: bytes | bytearray, starts: np.ndarray, ends: np.ndarray, numbers: np.ndarray, parser: ObservationParser,
               devices: tuple[pa.Array, pa.Array, pa.Array] | None) -> tuple[Batch, np.ndarray]:
    """Read the non-blank lines ``buf[starts[i]:ends[i]]``, numbered ``numbers``, as :class:`ObservationParser` would.

    ``devices`` is the device map from :func:`device_arrays`. Returns the batch of the lines taken and
    the indices (into ``starts``) of the lines left to the reference parser, ascending.
    """
    n = len(starts)
    if not n:
        return empty(), np.zeros(0, np.int64)
    table, idx = _engine(buf, starts, ends)
    if table is None:
        return empty(), np.arange(n)
    col = {name: table.column(name).combine_chunks() for name in READ_SCHEMA.names}
    assume = parser.options.assume_timezone
    field = pc.struct_field
    ok = _valid(pc.equal(col["resourceType"], "Observation")) & _valid(pc.is_in(col["status"], value_set=_TAKEN_STATUS))
    ok &= _valid(pc.match_substring_regex(field(col["subject"], "reference"), r"^Patient/[^/]+$"))
    patient = pc.utf8_slice_codeunits(field(col["subject"], "reference"), 8)
    code = _first_loinc(field(col["code"], "coding"))
    ok &= _valid(pc.is_valid(code))
    # time: effectiveDateTime, else effectiveInstant, else effectivePeriod (a start, and an end if any)
    period = col["effectivePeriod"]
    start, end = field(period, "start"), field(period, "end")
    instant = col["effectiveInstant"]
    kind = np.select([_valid(pc.is_valid(col["effectiveDateTime"])), _valid(pc.is_valid(instant))], [0, 1], 2)
    effective = pc.coalesce(col["effectiveDateTime"], instant, start)
    by_period = pa.array(kind == 2)
    ok &= _times_ok(effective, zoned=assume is None) & ((kind != 1) | _times_ok(instant, zoned=True))
    period_end = pc.if_else(by_period, end, pa.scalar(None, pa.string()))
    ok &= ~((kind == 2) & _valid(pc.is_null(start))) & (_valid(pc.is_null(period_end)) | _times_ok(period_end, zoned=assume is None))
    ok &= _valid(pc.is_null(col["issued"])) | _times_ok(col["issued"], zoned=True)
    # the resource's own identity: its id, one identifier (several are left to the reference parser), a numeric version
    idents = col["identifier"]
    ok &= pc.fill_null(pc.list_value_length(idents), 0).to_numpy(zero_copy_only=False) <= 1
    first = _last(idents)
    ident_value = field(first, "value")
    identifier = pc.if_else(_valid(pc.greater(pc.utf8_length(ident_value), 0)),
                            pc.binary_join_element_wise(pc.fill_null(field(first, "system"), ""), ident_value, "|"),
                            pa.scalar(None, pa.string()))
    meta = col["meta"]
    version_id, updated = field(meta, "versionId"), field(meta, "lastUpdated")
    ok &= _valid(pc.or_kleene(pc.is_null(version_id), pc.string_is_ascii(version_id)))
    digits = _valid(pc.match_substring_regex(version_id, r"^[0-9]+$"))
    number = pc.utf8_lpad(pc.replace_substring_regex(version_id, r"^0+([0-9])", r"\1"), 12, "0")
    version = pc.if_else(digits, pc.binary_join_element_wise("v:", number, ""),
                         pc.if_else(_valid(pc.greater(pc.utf8_length(updated), 0)),
                                    pc.binary_join_element_wise("t:", updated, ""), pa.scalar(None, pa.string())))
    tags = field(meta, "tag")
    synthetic = _any_of(field(pc.list_flatten(tags), "code"), tags, pa.array(sorted(SYNTHETIC_TAGS)))
    # the device: none, or Device/<id> (other references are left to the reference parser)
    device_ref = field(col["device"], "reference")
    plain_device = _valid(pc.match_substring_regex(device_ref, r"^Device/[^/]+$"))
    ok &= plain_device | ~_valid(pc.greater(pc.utf8_length(device_ref), 0))
    device = pc.if_else(plain_device, pc.utf8_slice_codeunits(device_ref, 7), pa.scalar(None, pa.string()))
    # values: the components, each with a LOINC code and a value, else the quantity's value
    comps = col["component"]
    n_comp = pc.fill_null(pc.list_value_length(comps), 0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(comps)
    comp_line = pc.list_parent_indices(comps).to_numpy()
    comp_code = _first_loinc(field(field(flat, "code"), "coding"))
    comp_value, comp_unit, comp_cmp = _quantity_rows(field(flat, "valueQuantity"))
    comp_bad = ~_valid(pc.is_valid(comp_code)) | ~np.isfinite(comp_value)
    ok[comp_line[comp_bad]] = False
    q_value, q_unit, q_cmp = _quantity_rows(col["valueQuantity"])
    ok &= (n_comp > 0) | np.isfinite(q_value)
    # one row per value: a line's quantity, or its components in order
    simple = np.flatnonzero(n_comp == 0)
    row_line = np.concatenate([simple, comp_line])
    order = np.argsort(row_line, kind="stable")
    row_line = row_line[order]
    take = pa.array(order)
    values = np.concatenate([q_value[simple], comp_value])[order]
    units = pa.concat_arrays([q_unit.take(pa.array(simple)), comp_unit]).take(take)
    codes = pa.concat_arrays([code.take(pa.array(simple)), comp_code]).take(take)
    panel = pa.concat_arrays([pa.nulls(len(simple), pa.string()), code.take(pa.array(comp_line))]).take(take)
    comparator = pa.concat_arrays([q_cmp.take(pa.array(simple)), comp_cmp]).take(take)
    values, units, translated, catalogued, unsettled = _catalogue(codes, values, units, parser)
    ok[row_line[unsettled]] = False
    # the lines taken, and their rows
    lines_at, rows_at = pa.array(np.flatnonzero(ok)), pa.array(np.flatnonzero(ok[row_line]))
    if devices is not None:
        ids, vendors, types = devices
        at = pc.index_in(device, value_set=ids)
        vendor, device_type = pc.fill_null(vendors.take(at), "unknown"), pc.fill_null(types.take(at), "unknown")
    else:
        vendor = device_type = pa.array(np.full(len(ok), "unknown", object), pa.string())
    source = field(meta, "source")
    from_source = _valid(pc.and_(pc.equal(vendor, "unknown"), pc.starts_with(source, VENDOR_SOURCE)))
    vendor = pc.if_else(from_source, pc.utf8_slice_codeunits(source, len(VENDOR_SOURCE)), vendor)
    lines = {
        "line": pa.array(numbers[idx]), "observation_id": col["id"], "identifier": identifier, "patient": patient,
        "device": device, "vendor": vendor, "device_type": device_type, "effective": effective, "period_end": period_end,
        "issued": col["issued"], "synthetic": pa.array(synthetic),
        "precision": pc.if_else(_valid(pc.match_substring(effective, ".")), "fraction", "second"),
        "status": col["status"], "components_skipped": pa.array(np.zeros(len(ok), np.int32)), "version": version,
    }
    rows = {"panel": panel, "code": codes, "value": pa.array(values), "unit": units, "comparator": comparator,
            "absent_reason": pa.nulls(len(values), pa.string()), "unit_translated": pa.array(translated),
            "catalogued": pa.array(catalogued)}
    kept = Batch({k: v.take(lines_at).cast(LINE_SCHEMA.field(k).type) for k, v in lines.items()},
                 {k: v.take(rows_at).cast(ROW_SCHEMA.field(k).type) for k, v in rows.items()},
                 (np.cumsum(ok) - 1)[row_line[ok[row_line]]])
    return kept, np.setdiff1d(np.arange(n), idx[ok], assume_unique=True)
