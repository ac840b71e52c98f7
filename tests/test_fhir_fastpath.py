"""The FHIR ingest's columnar path (Arrow's JSON reader, :mod:`kuntalib.fhir.columns`) gives the reference parser's answer for every line.

The columnar path may only take lines whose columns show the reference parser's answer and must leave
every other line to :class:`~kuntalib.fhir.parse.ObservationParser`. These tests compare the two
line by line and whole ingest against whole ingest, on realistic lines, the Kanta PHR examples and
random mutations of them (hypothesis).
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntalib.fhir import columns, ingest
from kuntalib.fhir.ingest import OBSERVATION_COLUMNS, ingest_ndjson, local_runner, read_observations
from kuntalib.fhir.parse import LINE_FIELDS, ROW_FIELDS, IngestOptions, ObservationParser, Reject

KANTA = Path(__file__).parent / "fixtures" / "kanta-phr"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


def _q(value, code, unit=None, system=UCUM):
    q = {"value": value, "unit": unit or code, "system": system, "code": code}
    return {k: v for k, v in q.items() if v is not None}


def _coding(code, system=LOINC):
    return {"coding": [{"system": system, "code": code, "display": "näyttö"}]}


BASE = [
    {"resourceType": "Observation", "id": "w1", "status": "final", "code": _coding("29463-7"),
     "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-03-01T08:00:00+02:00",
     "valueQuantity": _q(80.5, "kg")},
    {"resourceType": "Observation", "id": "g1", "meta": {"versionId": "3", "source": "urn:kuntalib:vendor:vendor_a",
     "tag": [{"system": "urn:kuntalib", "code": "synthetic"}]},
     "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1"}], "status": "amended",
     "code": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "160196"}, {"system": LOINC, "code": "14743-9"}]},
     "subject": {"reference": "Patient/p2"}, "device": {"reference": "Device/d1"},
     "effectivePeriod": {"start": "2024-01-08T00:00:00.5+02:00", "end": "2024-01-08T00:15:00+02:00"},
     "issued": "2024-01-07T22:00:10Z", "valueQuantity": _q(120, "mg/dL")},
    {"resourceType": "Observation", "id": "bp", "status": "preliminary", "code": _coding("85354-9"),
     "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-03-01T08:00:00",
     "meta": {"lastUpdated": "2024-03-01T08:00:05Z"},
     "component": [{"code": _coding("8480-6"), "valueQuantity": _q(141, "mm[Hg]", "mmHg")},
                   {"code": _coding("8462-4"), "valueQuantity": _q(91, None, "mmHg", None)}]},
    {"resourceType": "Observation", "id": "hr", "status": "corrected", "code": _coding("8867-4"),
     "subject": {"reference": "Patient/p3"}, "effectiveInstant": "2024-03-01T08:00:00.123456789Z",
     "valueQuantity": {"value": 72, "unit": "beats/min"}, "identifier": [{"value": "x"}, {"system": "s"}]},
    {"resourceType": "Observation", "id": "t1", "status": "final", "code": _coding("8310-5"),
     "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-03-31T03:30:00",
     "valueQuantity": {"value": 98.6, "unit": "°F", "comparator": "<"}},
    {"resourceType": "Observation", "id": "cgm", "status": "final", "code": _coding("14745-4"),  # local times
     "subject": {"reference": "Patient/p2"}, "effectivePeriod": {"start": "1952-10-26T01:50:00", "end": "1952-10-26T02:05:00"},
     "valueQuantity": _q(6.1, "mmol/L")},
    {"resourceType": "Observation", "id": "cgm2", "status": "final", "code": _coding("14745-4"),  # twice; after 2037
     "subject": {"reference": "Patient/p2"}, "effectivePeriod": {"start": "2024-10-27T03:50:00", "end": "2040-10-28T04:05:00"},
     "valueQuantity": _q(6.2, "mmol/L")},
    {"resourceType": "Observation", "id": "other", "status": "final", "code": _coding("1234-5"),
     "subject": {"reference": "Patient/p4"}, "effectiveDateTime": "2024-02-29T23:59:60Z",
     "valueQuantity": {"value": -0.0, "unit": "x"}},
]
if KANTA.is_dir():
    BASE += [orjson.loads(p.read_bytes()) for p in sorted(KANTA.glob("*.json"))
             if orjson.loads(p.read_bytes()).get("resourceType") == "Observation"]

_VALUES = [None, "", 0, -1, 1e308, 1e-320, 12345678901234567890123, True, [], {}, "x", "ä\\u00e4", "Patient/p1",
           "2024-03-01T08:00:00Z", "2024-03-01T08:00:00+14:00", "2024-03-01T08:00:00-00:00", "2024-13-01T08:00:00Z",
           "2023-02-29T08:00:00Z", "2024-03-01T24:00:00Z", "2024-03-01T08:00:00+15:00", "2024-03-01T08:00Z",
           "2024-03-01", "2024-03-01T08:00:00.1234567890Z", "0000-01-01T00:00:00Z", "١٢٣٤-03-01T08:00:00Z",
           {"reference": "Patient/p1/_history/2"}, {"reference": "Device/d1"}, {"reference": "Group/g"},
           [{"system": LOINC, "code": "8480-6"}], {"coding": [{"system": LOINC, "code": ""}]},
           {"value": 5, "unit": "kPa"}, {"value": "5"}, {"value": 1e400}]
_KEYS = ["status", "id", "subject", "code", "effectiveDateTime", "effectiveInstant", "effectivePeriod", "issued",
         "valueQuantity", "component", "identifier", "meta", "device", "resourceType", "dataAbsentReason",
         "valueString", "note"]


def _paths(doc, prefix=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _set(doc, path, value, delete=False):
    target = doc
    for p in path[:-1]:
        target = target[p]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value


def mutate(doc: dict, r: random.Random) -> bytes:
    """A line made from ``doc`` by a few random edits: of values anywhere, of keys, and of the bytes."""
    d = copy.deepcopy(doc)
    for _ in range(r.randrange(1, 4)):
        paths = list(_paths(d))
        kind = r.randrange(6)
        if kind == 0 and paths:
            _set(d, r.choice(paths), copy.deepcopy(r.choice(_VALUES)))
        elif kind == 1 and paths:
            path = r.choice(paths)
            try:
                _set(d, path, None, delete=True)
            except (IndexError, KeyError):
                pass
        elif kind == 2:
            d[r.choice(_KEYS)] = copy.deepcopy(r.choice(_VALUES))
        elif kind == 3:
            d["effectiveDateTime"] = "".join(r.choice("0123456789-T:+Z.") if c.isdigit() and r.random() < 0.1 else c
                                             for c in "2024-03-01T08:00:00+02:00")
    raw = json.dumps(d, ensure_ascii=r.random() < 0.2, separators=(",", ":")).encode()  # stdlib: big integers too
    kind = r.randrange(8)
    if kind == 0:  # a byte changed
        i = r.randrange(len(raw))
        raw = raw[:i] + bytes([r.randrange(256)]) + raw[i + 1:]
    elif kind == 1:  # a key named twice
        raw = raw[:-1] + b',"status":"final"}'
    elif kind == 2:  # an escaped key, whitespace and a carriage return
        raw = raw.replace(b'"status"', b'"st\\u0061tus"', 1) if r.random() < 0.5 else b' ' + raw.replace(b",", b" ,\t") + b"\r"
    elif kind == 3:  # cut short
        raw = raw[: r.randrange(len(raw))]
    elif kind == 4:  # a non-ASCII id, escaped or not
        raw = raw.replace(b'"id":"', r.choice([b'"id":"\xc3\xa4', b'"id":"\\u00e4', b'"id":"\\ud800', b'"id":"\xed\xa0\x80']), 1)
    elif kind == 5:  # a byte order mark (ignored at the very start of the line only)
        raw = r.choice([b"\xef\xbb\xbf", b"\xef\xbb\xbf ", b" \xef\xbb\xbf", b"\xef\xbb"]) + raw
    return raw.replace(b"\n", b" ")


def _reference(raw: bytes, options: IngestOptions):
    try:
        return ObservationParser(options, {"d1": ("acme", "scale")}).parse(raw)
    except Reject as exc:
        return exc.code
    except Exception as exc:  # noqa: BLE001 - the ingest reads these as 'unreadable'
        return f"unreadable:{type(exc).__name__}"


def _check_line(raw: bytes, options: IngestOptions) -> bool:
    """Compare the columnar path with the reference parser on one line; True when the columnar path took the line."""
    buf = b"{}\n" + raw + b"\n{}"  # a line between two others, as in a block
    starts = np.array([0, 3, 4 + len(raw)])
    ends = starts + [2, len(raw), 2]
    ref = _reference(raw, options)
    if raw.strip() == b"" or raw.isspace():
        return False
    batch, slow = columns.read_lines(buf, starts, ends, np.array([6, 7, 8]), ObservationParser(options, {"d1": ("acme", "scale")}),
                                     columns.device_arrays({"d1": ("acme", "scale")}))
    assert len(batch) + len(slow) == 3 and {0, 2} <= set(slow.tolist())
    if 1 in slow:
        return False
    assert not isinstance(ref, str), f"columnar path accepted a line the reference parser rejects ({ref}): {raw!r}"
    head, values = ref
    got_head = tuple(batch.lines[f][0].as_py() for f in LINE_FIELDS[1:])
    assert batch.lines["line"][0].as_py() == 7
    assert got_head == head, raw
    got_rows = [tuple(batch.rows[f][k].as_py() for f in ROW_FIELDS) for k in range(len(batch.rows["code"]))]
    assert len(got_rows) == len(values)
    for got, want in zip(got_rows, values, strict=True):
        assert got[:2] == want[:2] and got[3:] == want[3:], raw
        assert got[2] == pytest.approx(want[2], rel=0, abs=0) and np.signbit(got[2]) == np.signbit(want[2]), raw
    return True


def test_realistic_lines_take_the_columnar_path_and_agree():
    options = IngestOptions()
    taken = [_check_line(orjson.dumps(d), options) for d in BASE]
    assert sum(taken) >= 5  # the plain shapes are not left to the slow path


@settings(max_examples=800, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), assume=st.sampled_from(["Europe/Helsinki", None]), plausibility=st.booleans())
def test_any_mutation_gives_the_reference_answer(seed, assume, plausibility):
    r = random.Random(seed)
    options = IngestOptions(assume_timezone=assume, plausibility=plausibility)
    _check_line(mutate(r.choice(BASE), r), options)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=120))
def test_random_bytes_are_left_to_the_reference_parser_or_agree(raw):
    _check_line(raw.replace(b"\n", b" "), IngestOptions())


def _whole(res) -> tuple:
    table = read_observations(res.out_dir, [*OBSERVATION_COLUMNS, "content_hash"])
    rows = table.sort_values(["source", "line", "code"], kind="stable").reset_index(drop=True)
    rej = res.rejects.sort_values(["source", "line", "reason"], kind="stable").reset_index(drop=True)
    return res.lines, res.accepted, res.rejected, res.rows, rej.to_csv(index=False), rows.to_csv(index=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), workers=st.sampled_from([1, 2]), chunk=st.integers(1, 40),
       block=st.sampled_from([16, 100, 1000, 8 << 20]))
def test_whole_ingest_is_the_same_with_and_without_the_fast_path(tmp_path_factory, seed, workers, chunk, block):
    """Random lines, split into ranges, chunks and read blocks (lines longer than a block included)."""
    r = random.Random(seed)
    lines = []
    for _ in range(60):
        doc = copy.deepcopy(r.choice(BASE))
        doc["id"] = f"r{r.randrange(15)}"  # repeats: duplicates, versions and conflicts
        doc["subject"] = {"reference": f"Patient/p{r.randrange(4)}"}
        lines.append(mutate(doc, r) if r.random() < 0.3 else orjson.dumps(doc))
        if r.random() < 0.05:
            lines.append(b"   ")
    d = tmp_path_factory.mktemp("fast")
    path = d / "in.ndjson"
    path.write_bytes(b"\n".join(lines) + (b"\n" if r.random() < 0.5 else b""))
    kwargs = {"source_ids": ["s"], "devices": {"d1": ("acme", "scale")}, "workers": workers, "range_bytes": r.choice([300, 5000, 1 << 20])}
    saved = ingest._BLOCK_BYTES
    ingest._BLOCK_BYTES = block
    try:
        fast = ingest_ndjson(path, d / "fast", options=IngestOptions(chunk_lines=chunk), **kwargs)
        slow = ingest_ndjson(path, d / "slow", options=IngestOptions(chunk_lines=chunk, fast_path=False), **kwargs)
    finally:
        ingest._BLOCK_BYTES = saved
    assert _whole(fast) == _whole(slow)
    assert fast.accepted + fast.rejected == fast.lines == sum(1 for ln in lines if ln.strip())
    for part in (d / "fast" / "observations").glob("*/*.parquet"):  # rows in line order, however the input was cut
        line = pq.read_table(part, columns=["line"]).column("line").to_numpy()
        assert (np.diff(line) >= 0).all()


def test_threads_and_processes_give_the_same_answer(tmp_path):
    r = random.Random(5)
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(r.choice(BASE)) if r.random() < 0.8 else mutate(r.choice(BASE), r)
                                for _ in range(300)))
    kwargs = {"source_ids": ["s"], "range_bytes": 4000, "rows_per_bucket": 50}
    threads = ingest_ndjson(path, tmp_path / "t", runner=local_runner(2, threads=True), **kwargs)
    processes = ingest_ndjson(path, tmp_path / "p", runner=local_runner(2, threads=False), **kwargs)
    assert threads.buckets > 1 and _whole(threads) == _whole(processes)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=30), st.integers(0, 5))
def test_string_hashes_are_pandas_hashes(texts, cut):
    """The hash of each string (any slice of an array) is pandas.util.hash_array's, nulls as "\\0"."""
    texts = [t.encode("utf-8", "replace").decode("utf-8") if t is not None else None for t in texts]  # no lone surrogates
    arr = pa.array(texts, pa.string()).slice(min(cut, len(texts)))
    expected = pd.util.hash_array(np.array([t if t is not None else "\0" for t in arr.to_pylist()], object), categorize=False)
    assert columns.hash_strings(arr).tolist() == expected.tolist()


def test_identity_groups_stay_exact_when_hashes_collide(monkeypatch):
    """Versions are grouped by (patient, id) and (patient, identifier) hashes; a collision must not merge two resources."""
    import pyarrow as pa

    r = random.Random(11)
    n = 400
    patient = pa.array([f"p{r.randrange(5)}" for _ in range(n)])
    ids = pa.array([f"o{r.randrange(60)}" if r.random() < 0.7 else None for _ in range(n)])
    idents = pa.array([r.choice([None, f"s|v{r.randrange(60)}", f"s|v{r.randrange(60)}\x1fs|w{r.randrange(9)}", f"o{r.randrange(60)}"])
                       for _ in range(n)])
    lkey = np.array(r.sample(range(10 * n), n), np.int64)
    exact = ingest._identity_groups(patient, ids, idents, lkey)
    keys = [{(0, i)} if i else set() for i in ids.to_pylist()]
    for k, ident in zip(keys, idents.to_pylist(), strict=True):
        k.update((1, v) for v in (ident or "").split("\x1f") if v)
    first: dict[tuple, int] = {}
    for i in sorted(range(n), key=lambda i: lkey[i]):
        for k in keys[i]:
            first.setdefault((patient[i].as_py(), *k), i)
    brute = [min((first[(patient[i].as_py(), *k)] for k in keys[i]), key=lambda j: lkey[j], default=i) for i in range(n)]
    assert exact.tolist() == brute  # each line: the earliest line it shares a key with, per patient
    assert len(set(brute)) < n  # some lines are versions of one resource
    for fake in (lambda a: np.zeros(len(a), np.uint64), lambda a: np.arange(len(a), dtype=np.uint64) % np.uint64(3)):
        monkeypatch.setattr(ingest, "_hash_strings", fake)  # every key collides with others
        assert ingest._identity_groups(patient, ids, idents, lkey).tolist() == exact.tolist()


def test_lines_that_are_not_one_object_each_or_nest_deep_give_the_reference_answer(tmp_path, monkeypatch):
    """Arrow's reader takes two objects on a line and an object over two lines; its rows must not slide onto other
    lines. A unit that is a control character is not a missing unit. Deep nesting in a field no one reads neither
    crashes the process nor changes the answer."""
    x = orjson.dumps({**BASE[0], "id": "x"})
    y, z = x.replace(b'"id":"x"', b'"id":"y"'), x.replace(b'"id":"x"', b'"id":"z"')

    def reasons(lines: list[bytes]) -> list[str | None]:
        d = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        path = d / "in.ndjson"
        d.mkdir()
        path.write_bytes(b"\n".join(lines) + b"\n")
        fast = ingest_ndjson(path, d / "fast", source_ids=["s"])
        slow = ingest_ndjson(path, d / "slow", source_ids=["s"], options=IngestOptions(fast_path=False))
        assert _whole(fast) == _whole(slow)
        got = dict(zip(fast.rejects["line"], fast.rejects["reason"], strict=True))
        return [got.get(k) for k in range(1, len(lines) + 1)]

    assert reasons([x[:30], x[30:], y + b" " + z]) == ["invalid_json"] * 3
    assert reasons([b"\xef\xbb\xbf", x + y]) == ["invalid_json"] * 2
    odd_unit = orjson.dumps({**BASE[0], "code": _coding("85354-9"), "valueQuantity": {"value": 1, "unit": "\x01"}})
    assert reasons([x, odd_unit]) == [None, "unit_unknown"]
    given = []  # what Arrow's reader is given: never a deeply nested line (its type inference slows with depth squared)
    read_json = columns.pj.read_json
    monkeypatch.setattr(columns.pj, "read_json", lambda source, **kw: given.append(source.read()) or read_json(
        pa.BufferReader(given[-1]), **kw))
    for depth, kind in ((40, None), (300, None), (1200, "unreadable"), (30_000, "unreadable")):
        deep_objects = b'{"note":' + b'{"a":' * depth + b"1" + b"}" * depth + b"," + x[1:].replace(b"80.5", b"81.5")
        deep_arrays = b'{"note":' + b"[" * depth + b"]" * depth + b"," + y[1:].replace(b"80.5", b"82.5")
        assert reasons([z, deep_objects, deep_arrays]) == [None, kind, kind]
    assert given and not any(b"[" * 300 in g or b'{"a":' * 300 in g for g in given)
