"""FHIR ingest on inputs other systems write: every line accounted for, the same answer however it is split."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import gzip
import random
import zlib

import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntalib.fhir.ingest import ingest_bundles, ingest_ndjson, read_observations
from kuntalib.fhir.parse import IngestOptions, Reject, check_datetime, parse_reference
from tests.conftest import near_a_clock_change


def obs(ident="a", patient="Patient/p1", when="2024-03-01T08:00:00+02:00", value=80.5, **over):
    base = {"resourceType": "Observation", "id": ident, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": patient}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def bp(ident, sys_v, dia_v, when="2024-03-01T08:00:00Z", **over):
    comp = [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": sys_v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": dia_v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]
    return obs(ident, when=when, valueQuantity=None, code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
               component=comp, **over)


def write(path, items):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for it in items:
            fh.write((it if isinstance(it, bytes) else orjson.dumps(it)) + b"\n")
    return path


def reasons(res) -> dict[int, str]:
    return dict(zip(res.rejects["line"], res.rejects["reason"], strict=True))


def test_a_bad_byte_or_offset_costs_only_its_own_line(tmp_path):
    lines = [obs("a"), b'{"resourceType": "Observation", "id": "\xff\xfe"}', obs("b", when="2024-03-01T08:00:00+0200"),
             obs("c", when="2024-03-01T08:00:00+02"), obs("d", when="2024-03-01T09:00:00Z")]
    res = ingest_ndjson(write(tmp_path / "x.ndjson", lines), tmp_path / "out")
    got = reasons(res)
    assert got == {2: "unreadable", 3: "bad_time", 4: "bad_time"}
    detail = res.rejects.set_index("line")["detail"]
    assert "not UTF-8: byte" in detail[2] and "±hh:mm" in detail[3] and "±hh:mm" in detail[4]
    assert res.accepted + res.rejected == res.lines == 5


@pytest.mark.parametrize(("text", "why"), [
    ("2022-09-14T10:15+03:00", "minutes without seconds"),
    ("2024-03-01 08:00:00+02:00", "a space instead of 'T'"),
    ("20240301", "no '-'"),
    ("2024-02-30", "day is out of range"),
    ("2024-03-01T25:00:00Z", "clock time out of range"),
])
def test_times_that_are_not_fhir_datetimes_say_why(text, why):
    with pytest.raises(Reject, match=why) as err:
        check_datetime(text, "effectiveDateTime")
    assert err.value.code == "bad_time"


def test_precision_is_recorded_as_given():
    assert check_datetime("2024-03-01", "f") == "day"
    assert check_datetime("2024-03-01T08:00:00Z", "f") == "second"
    assert check_datetime("2024-03-01T08:00:00.123+02:00", "f") == "fraction"
    assert check_datetime("2024-03", "f") == "month"
    with pytest.raises(Reject, match="an instant needs seconds and an offset"):
        check_datetime("2024-03-01", "issued", instant=True)


def test_references():
    assert parse_reference("Patient/123", "subject") == "123"
    assert parse_reference("Patient/123/_history/2", "subject") == "123"
    assert parse_reference("https://fhir.example.fi/R4/Patient/123/_history/4", "subject") == \
        "https://fhir.example.fi/R4/Patient/123"
    assert parse_reference("urn:uuid:6f1c", "subject") == "6f1c"
    for ref, code in (("Group/g1", "subject_not_patient"), ("Device/d1", "subject_not_patient"), ("Patient/", "missing_subject"),
                      ("#p1", "missing_subject"), ("", "missing_subject")):
        with pytest.raises(Reject) as err:
            parse_reference(ref, "subject")
        assert err.value.code == code, ref


def test_same_named_files_in_different_folders_keep_their_own_lines(tmp_path):
    a = write(tmp_path / "site_a" / "Observation.ndjson", [obs("1", value=70.0), obs("1", value=70.0)])
    b = write(tmp_path / "site_b" / "Observation.ndjson", [obs("9", patient="Patient/p2", value=90.0),
                                                          obs("8", patient="Patient/p2", value=91.0)])
    res = ingest_ndjson([a, b], tmp_path / "out")
    assert res.lines == 4 and res.rejected == 1 and res.accepted == 3
    assert set(res.rejects["source"]) == {str(a)}
    assert sorted(res.read()["value"]) == [70.0, 90.0, 91.0]
    named = ingest_ndjson([a, b], tmp_path / "out2", source_ids=["A", "B"])
    assert set(named.read()["source"]) == {"A", "B"}
    with pytest.raises(ValueError, match="same source id"):
        ingest_ndjson([a, b], tmp_path / "out3", source_ids=["A", "A"])


def test_content_key_is_canonical(tmp_path):
    lines = [bp("1", 140, 90), bp("2", 140, 90, when="2024-03-01T10:00:00+02:00"),  # the same instant: a re-send
             bp("3", 90, 140),                                                     # values swapped: not the same
             obs("4", valueQuantity={"value": 80.5, "comparator": ">", "unit": "kg", "system": "http://unitsofmeasure.org",
                                     "code": "kg"}),
             obs("5")]                                                             # no comparator: not the same as 4
    res = ingest_ndjson(write(tmp_path / "k.ndjson", lines), tmp_path / "out")
    assert reasons(res) == {2: "duplicate_content"}


def test_identifiers_are_system_and_value_and_ids_identify(tmp_path):
    ident = [{"system": "urn:a", "value": "42"}]
    lines = [obs("x1", identifier=ident), obs("x2", identifier=[{"system": "urn:b", "value": "42"}], value=80.6),  # other system
             obs("x3", identifier=[{"system": "urn:c", "value": "7"}, *ident], value=81.0),          # shares urn:a|42
             obs("same-id", value=60.0), obs("same-id", value=61.0)]                                 # id reused
    res = ingest_ndjson(write(tmp_path / "i.ndjson", lines), tmp_path / "out")
    assert reasons(res) == {3: "identifier_conflict", 5: "identifier_conflict"}


def test_period_end_and_issued_follow_the_start_time_zone_rule(tmp_path):
    cgm = obs("g", when=None, effectivePeriod={"start": "2024-03-01T08:00:00", "end": "2024-03-01T08:15:00"},
              issued="2024-03-01T08:20:00+02:00")
    backwards = obs("h", when=None, effectivePeriod={"start": "2024-03-01T08:00:00Z", "end": "2024-03-01T07:00:00Z"})
    res = ingest_ndjson(write(tmp_path / "p.ndjson", [cgm, backwards]), tmp_path / "out")
    row = res.read().iloc[0]
    assert row["period_end_utc"] - row["time_utc"] == pd.Timedelta(minutes=15) and row["tz_assumed"]
    assert reasons(res) == {2: "bad_time"} and "before the start" in res.rejects["detail"].iloc[0]


def test_extra_mdc_component_is_skipped_and_counted(tmp_path):
    panel = bp("m", 140, 90)
    panel["component"].append({"code": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "150023"}]},
                               "valueQuantity": {"value": 107, "unit": "mmHg"}})
    res = ingest_ndjson(write(tmp_path / "m.ndjson", [panel]), tmp_path / "out")
    got = res.read()
    assert res.accepted == 1 and set(got["code"]) == {"8480-6", "8462-4"} and set(got["components_skipped"]) == {1}


def test_gzip_exports_read_like_plain_files(tmp_path):
    items = [obs(str(i), value=60.0 + i) for i in range(50)] + [b"{broken"]
    plain = write(tmp_path / "o.ndjson", items)
    gz = tmp_path / "o.ndjson.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = ingest_ndjson(plain, tmp_path / "a"), ingest_ndjson(gz, tmp_path / "b", range_bytes=64)
    assert (a.lines, a.accepted, reasons(a)) == (b.lines, b.accepted, reasons(b)) == (51, 50, {51: "invalid_json"})


def test_a_missing_input_or_a_folder_is_named_before_anything_is_written(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.ndjson: no such input file"):
        ingest_ndjson(tmp_path / "nope.ndjson", tmp_path / "out")
    (tmp_path / "export").mkdir()
    with pytest.raises(IsADirectoryError, match=r"export: a folder, not a file.*ingest_bulk_export"):
        ingest_ndjson(tmp_path / "export", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_bundle_is_rejected(tmp_path):
    f = tmp_path / "patient.json"
    f.write_bytes(orjson.dumps({"resourceType": "Patient", "id": "p1"}))
    res = ingest_bundles(f, tmp_path / "out")
    assert (res.lines, res.rejected) == (1, 1) and res.rejects["reason"].iloc[0] == "not_bundle"


def test_outputs_are_replaced_only_on_success_and_inputs_are_never_deleted(tmp_path):
    out = tmp_path / "out"
    good = write(tmp_path / "g.ndjson", [obs("a")])
    ingest_ndjson(good, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(FileNotFoundError):
        ingest_ndjson(tmp_path / "missing.ndjson", out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    inside = write(out / "inside.ndjson", [obs("b")])
    with pytest.raises(ValueError, match="inside the output folder"):
        ingest_ndjson(inside, out)
    assert inside.exists() and len(read_observations(out)) == 1


def test_nothing_accepted_reads_as_an_empty_typed_table(tmp_path):
    res = ingest_ndjson(write(tmp_path / "bad.ndjson", [b"{", b"[]"]), tmp_path / "out")
    empty = res.read()
    assert res.accepted == 0 and len(empty) == 0 and "time_utc" in empty.columns
    assert str(empty["time_utc"].dtype).startswith("datetime64")


# -- property-based: any input, any split ---------------------------------------------------------------------

_BASE = [obs("a"), bp("b", 140, 90), obs("c", patient="Patient/p2", when="2024-03-02"),
         obs("d", when=None, effectivePeriod={"start": "2024-03-01T08:00:00Z", "end": "2024-03-01T08:15:00Z"}),
         obs("e", value=500.0), obs("f", status="preliminary")]


def _mutate(doc: dict, r: random.Random) -> bytes:
    d = copy.deepcopy(doc)
    choice = r.randrange(8)
    if choice == 0:
        d.pop(r.choice(sorted(d)), None)
    elif choice == 1:
        d[r.choice(sorted(d))] = r.choice([None, "", 0, [], {}, "x", 1e308, True])
    elif choice == 2:
        d["effectiveDateTime"] = r.choice(["2024", "2024-03-01T08:00", "2024-03-01T08:00:00+0200", "nope", "2024-02-30"])
    elif choice == 3:
        d["subject"] = {"reference": r.choice(["Group/1", "Patient/", "Patient/1/_history/3", "urn:uuid:z", "#c"])}
    raw = orjson.dumps(d)
    if choice == 4:
        i = r.randrange(len(raw))
        raw = raw[:i] + bytes([r.randrange(256)]) + raw[i + 1:]
    elif choice == 5:
        raw = raw[: r.randrange(len(raw))]
    return raw.replace(b"\n", b" ")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), junk=st.lists(st.binary(max_size=80), max_size=5))
def test_any_bytes_give_accepted_or_rejected_lines_never_an_exception(tmp_path_factory, seed, junk):
    r = random.Random(seed)
    lines = [_mutate(r.choice(_BASE), r) for _ in range(12)] + [j.replace(b"\n", b" ") for j in junk]
    lines = [ln for ln in lines if ln.strip()] or [b"{}"]
    d = tmp_path_factory.mktemp("prop")
    res = ingest_ndjson(write(d / "in.ndjson", lines), d / "out", options=IngestOptions(assume_timezone=r.choice([None, "Europe/Helsinki"])))
    assert res.accepted + res.rejected == res.lines == len(lines)
    assert res.rejects["reason"].notna().all()


def _answer(res) -> tuple:
    got = res.read()
    rows = got[["source", "line", "code", "value", "time_utc"]].sort_values(["source", "line", "code"]).reset_index(drop=True)
    return sorted(reasons(res).items()), rows.to_csv(index=False)


def _every_source(res) -> tuple:
    """Every reject (source, line, reason, detail, raw text) and every row, of an ingest of several sources."""
    rej = res.rejects[["source", "line", "reason", "detail", "raw"]].sort_values(["source", "line", "reason"])
    rows = res.read()[["source", "line", "code", "value", "unit", "time_utc", "status", "vendor"]]
    return rej.to_csv(index=False), rows.sort_values(["source", "line", "code"]).to_csv(index=False), res.lines


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), range_bytes=st.integers(40, 4000), chunk=st.integers(1, 50),
       workers=st.sampled_from([1, 2]))
def test_the_answer_does_not_depend_on_the_split(tmp_path_factory, seed, range_bytes, chunk, workers):
    r = random.Random(seed)
    docs = []
    for _ in range(30):
        d = copy.deepcopy(r.choice(_BASE))
        d["id"] = f"r{r.randrange(12)}"  # repeats: duplicates and conflicts
        d["subject"] = {"reference": f"Patient/p{r.randrange(4)}"}
        if r.random() < 0.3:
            d["note"] = [{"text": "ääkköset ja 😀"}]  # non-ASCII text in some lines, not others
        docs.append(d)
    d = tmp_path_factory.mktemp("split")
    f = write(d / "in.ndjson", docs)
    base = ingest_ndjson(f, d / "base", source_ids=["s"])
    split = ingest_ndjson(f, d / "split", source_ids=["s"], range_bytes=range_bytes, workers=workers,
                          options=IngestOptions(chunk_lines=chunk))
    assert _answer(base) == _answer(split)



def _repeating(r: random.Random) -> dict:
    """A resource of _BASE whose id and patient repeat across draws (duplicates, versions, conflicts)."""
    d = copy.deepcopy(r.choice(_BASE))
    d["id"] = f"r{r.randrange(10)}"
    d["subject"] = {"reference": f"Patient/p{r.randrange(3)}"}
    return d


def _encoded(r: random.Random, text: bytes) -> bytes:
    """``text`` as a download may leave it: mostly plain; now and then gzip, gzip cut off or with one bit
    flipped, or UTF-16 with its byte order mark."""
    kind = r.random()
    if kind < 0.7:
        return text
    if kind < 0.8:
        return gzip.compress(text, mtime=0)
    if kind < 0.87:
        packed = gzip.compress(text, mtime=0)
        return packed[: r.randrange(len(packed))]
    if kind < 0.93:
        packed = bytearray(gzip.compress(text, mtime=0))
        packed[r.randrange(len(packed))] ^= 1 << r.randrange(8)
        return bytes(packed)
    return b"\xff\xfe" + text.decode("utf-8", "replace").encode("utf-16-le")


def _export_files(r: random.Random, folder, n_files: int, encodings: bool = False) -> list:
    """Small NDJSON files as a Bulk Data server writes them, a few lines each: resources whose ids and patients
    repeat across files (duplicates, versions, conflicts), some mutated, blank lines, a last line without its
    newline, an empty file, a byte order mark; with ``encodings``, some of them gzip (whole, cut off or
    damaged) or UTF-16 (see :func:`_encoded`)."""
    paths = []
    for k in range(n_files):
        lines = []
        for _ in range(r.randint(0, 6)):
            d = _repeating(r)
            lines.append(_mutate(d, r) if r.random() < 0.25 else orjson.dumps(d))
            if r.random() < 0.1:
                lines.append(r.choice([b"", b"  ", b"\xef\xbb\xbf" + orjson.dumps(obs(f"bom{k}"))]))
        text = b"\n".join(lines) + (b"\n" if lines and r.random() < 0.7 else b"")
        paths.append(folder / f"{k % 3}" / "Observation.ndjson")  # the same name in several folders
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        if paths[-1].exists():
            paths[-1] = paths[-1].with_name(f"Observation_{k}.ndjson")
        paths[-1].write_bytes(_encoded(r, text) if encodings else text)
    return paths


def test_small_files_read_together_give_each_file_its_own_answer(tmp_path):
    from kuntalib.fhir.ingest import plan_units

    files = [write(tmp_path / "1" / "Observation.ndjson", [obs("a"), obs("b", when="2024-03-01T08:00")]),
             tmp_path / "2" / "Observation.ndjson", tmp_path / "3" / "Observation.ndjson",
             write(tmp_path / "4" / "Observation.ndjson", [b"", obs("a"), b"[1]", bp("p", 120, 80)])]
    files[1].parent.mkdir()
    files[1].write_bytes(b"")  # an empty file
    files[2].parent.mkdir()
    files[2].write_bytes(orjson.dumps(obs("c", value=79.0)) + b"\n" + orjson.dumps(obs("d", value=81.0)))  # no last newline
    units = plan_units(files, [str(f) for f in files], 16 << 20)
    assert len(units) == 1 and len(units[0][1]) == 3  # one work unit reads them all (the empty one has nothing)
    together = ingest_ndjson(files, tmp_path / "together")
    apart = ingest_ndjson(files, tmp_path / "apart", range_bytes=1)  # every line a range of its own
    assert _every_source(together) == _every_source(apart)
    got = {(s[len(str(tmp_path)) + 1:], ln): why for s, ln, why in together.rejects[["source", "line", "reason"]].itertuples(index=False)}
    assert got == {("1/Observation.ndjson", 2): "bad_time", ("4/Observation.ndjson", 2): "duplicate",
                   ("4/Observation.ndjson", 3): "not_observation"}
    rows = together.read()
    assert sorted(zip(rows["source"].str[len(str(tmp_path)) + 1:], rows["line"], rows["code"], strict=True)) == [
        ("1/Observation.ndjson", 1, "29463-7"), ("3/Observation.ndjson", 1, "29463-7"), ("3/Observation.ndjson", 2, "29463-7"),
        ("4/Observation.ndjson", 4, "8462-4"), ("4/Observation.ndjson", 4, "8480-6")]
    assert together.lines == apart.lines == 7




@pytest.mark.parametrize("range_bytes", [1, 16 << 20])
def test_one_file_given_twice_as_two_sources_is_numbered_from_1_in_each(tmp_path, range_bytes):
    f = write(tmp_path / "o.ndjson", [obs("a"), b"{", obs("b", value=81.0)])
    res = ingest_ndjson([f, f], tmp_path / "out", source_ids=["site-a", "site-b"], range_bytes=range_bytes)
    got = sorted(zip(res.rejects["source"], res.rejects["line"], res.rejects["reason"], strict=True))
    assert got == [("site-a", 2, "invalid_json"), ("site-b", 1, "duplicate"), ("site-b", 2, "invalid_json"),
                   ("site-b", 3, "duplicate")]


def test_files_that_fill_a_read_block_to_the_byte(tmp_path, monkeypatch):
    from kuntalib.fhir import ingest

    monkeypatch.setattr(ingest, "_BLOCK_BYTES", 16)  # files of 2 to 31 bytes, with and without their last newline
    files = [write(tmp_path / f"{k:02d}.ndjson", []) for k in range(60)]
    for k, f in enumerate(files):
        size = 2 + k // 2
        f.write_bytes(b"x" * (size - 1) + (b"\n" if k % 2 else b"y"))
    together = ingest_ndjson(files, tmp_path / "together")
    apart = ingest_ndjson(files, tmp_path / "apart", range_bytes=1)
    assert together.lines == apart.lines == together.rejected == 60
    assert _every_source(together) == _every_source(apart)
    assert set(together.rejects["line"]) == {1}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n_files=st.integers(1, 12), workers=st.sampled_from([1, 2]),
       fast=st.booleans(), block=st.sampled_from([None, 97, 700]))
def test_many_small_files_give_the_answer_of_each_alone(tmp_path_factory, seed, n_files, workers, fast, block):
    from kuntalib.fhir import ingest
    from kuntalib.fhir.ingest import plan_units

    r = random.Random(seed)
    d = tmp_path_factory.mktemp("many")
    files = _export_files(r, d / "in", n_files, encodings=True)
    options = IngestOptions(fast_path=fast, chunk_lines=r.choice([1, 7, 50_000]))
    with pytest.MonkeyPatch.context() as mp:  # small read blocks: files share a block, or are larger than one
        if block:
            mp.setattr(ingest, "_BLOCK_BYTES", block)
        together = ingest_ndjson(files, d / "together", workers=workers, options=options)
    apart = ingest_ndjson(files, d / "apart", range_bytes=1, options=options)  # no two files in one work unit
    assert _every_source(together) == _every_source(apart)
    assert together.accepted + together.rejected == together.lines == apart.lines
    plain = [f for f in files if f.read_bytes()[:2] not in (b"\x1f\x8b", b"\xff\xfe")]  # each line of these is one line
    per_file = {str(f): len([ln for ln in f.read_bytes().split(b"\n") if ln.strip()]) for f in plain}
    seen = pd.concat([together.rejects[["source", "line"]], together.read(["source", "line"])]).drop_duplicates()
    assert seen.groupby("source").size().reindex(list(per_file), fill_value=0).to_dict() == per_file
    # read together: next-fit into units of a 1/workers share, so fewer than 2 units a worker (one for one worker)
    assert len(plan_units(files, [str(f) for f in files], 16 << 20, workers)) < 2 * workers



def _bundle_files(r: random.Random, folder, n_files: int) -> list:
    """Bundle files as systems write them: compact or pretty-printed, entries without a resource, resources
    that are not Observations or are mutated, ids repeating across files; now and then a file that is not a
    Bundle, an empty Bundle, a gzip Bundle or one cut off."""
    paths = []
    for k in range(n_files):
        entries = []
        for _ in range(r.randint(0, 6)):
            res = d = _repeating(r)
            if r.random() < 0.2:
                with contextlib.suppress(orjson.JSONDecodeError):  # a mutation that is still JSON
                    res = orjson.loads(_mutate(d, r))
            entries.append(r.choice([{"resource": res}, {"fullUrl": f"urn:uuid:{k}", "resource": res}, {"request": {}}]
                                    if r.random() < 0.15 else [{"resource": res}]))
        doc = r.choice([{"resourceType": "Bundle", "type": "collection", "entry": entries}] * 6
                       + [{"resourceType": "Patient", "id": "p"}, {"resourceType": "Bundle", "type": "searchset"}])
        text = orjson.dumps(doc, option=r.choice([0, orjson.OPT_INDENT_2]))
        path = folder / f"{k % 3}" / f"b{k}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = r.random()
        if kind < 0.1:
            path = path.with_suffix(".json.gz")
            path.write_bytes(gzip.compress(text, mtime=0))
        elif kind < 0.15:
            path = path.with_suffix(".json.gz")
            path.write_bytes(gzip.compress(text, mtime=0)[:-12])  # cut off
        elif kind < 0.2:
            path.write_bytes(text[: len(text) // 2])  # not JSON
        else:
            path.write_bytes(text)
        paths.append(path)
    return paths


def test_bundles_read_together_keep_each_file_and_entry_number(tmp_path):
    pretty = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": obs("a")}, {"request": {}},
                                                                       {"resource": bp("p", 120, 80)}]}
    files = [tmp_path / "1.json", tmp_path / "2.json", tmp_path / "3.json"]
    files[0].write_bytes(orjson.dumps(pretty, option=orjson.OPT_INDENT_2))
    files[1].write_bytes(orjson.dumps({"resourceType": "Patient", "id": "x"}))
    files[2].write_bytes(orjson.dumps({"resourceType": "Bundle", "entry": [{"resource": obs("b", when="2024-03-01T08:00")},
                                                                         {"resource": obs("c", value=70.0)}]}))
    together = ingest_bundles(files, tmp_path / "together")
    apart = ingest_bundles(files, tmp_path / "apart", range_bytes=1, options=IngestOptions(fast_path=False))
    assert _every_source(together) == _every_source(apart)
    got = {(s[-6:], ln): why for s, ln, why in together.rejects[["source", "line", "reason"]].itertuples(index=False)}
    assert got == {("1.json", 2): "not_observation", ("2.json", 0): "not_bundle", ("3.json", 1): "bad_time"}
    rows = together.read()
    assert sorted(zip(rows["source"].str[-6:], rows["line"], strict=True)) == [("1.json", 1), ("1.json", 3), ("1.json", 3),
                                                                                ("3.json", 2)]
    assert together.lines == 6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n_files=st.integers(1, 10), workers=st.sampled_from([1, 2]))
def test_bundles_read_together_by_the_columnar_path_give_the_reference_answer_of_each_alone(tmp_path_factory, seed, n_files,
                                                                                       workers):
    r = random.Random(seed)
    d = tmp_path_factory.mktemp("bundles")
    files = _bundle_files(r, d / "in", n_files)
    together = ingest_bundles(files, d / "together", workers=workers)
    apart = ingest_bundles(files, d / "apart", range_bytes=1, options=IngestOptions(fast_path=False))
    assert _every_source(together) == _every_source(apart)
    assert together.accepted + together.rejected == together.lines


def test_versions_supersede_and_withdrawals_retract(tmp_path):
    ident = [{"system": "urn:lab", "value": "m1"}]
    lines = [obs("v", identifier=ident, value=80.0, status="preliminary"),
             obs("v", identifier=ident, value=81.0),                          # final after preliminary: replaces it
             obs("v", identifier=ident, value=82.0, status="amended"),        # amended: replaces the final
             obs("w", identifier=[{"system": "urn:lab", "value": "m2"}], value=70.0),
             obs("w", identifier=[{"system": "urn:lab", "value": "m2"}], status="entered-in-error", value=None,
                 when=None),                                                  # withdraws m2
             obs("z", value=60.0), obs("z", value=61.0)]                      # same id, both final: a conflict
    res = ingest_ndjson(write(tmp_path / "v.ndjson", lines), tmp_path / "out")
    assert reasons(res) == {1: "superseded", 2: "superseded", 4: "retracted", 5: "entered_in_error", 7: "identifier_conflict"}
    kept = res.read()
    assert sorted(kept["value"]) == [60.0, 82.0] and set(kept["status"]) == {"amended", "final"}
    detail = res.rejects.set_index("line")["detail"]
    assert detail[1].startswith("replaced by") and detail[4].startswith("withdrawn by")


def test_version_ids_order_versions_whatever_the_arrival(tmp_path):
    ident = [{"system": "urn:lab", "value": "m3"}]
    lines = [obs("q", identifier=ident, value=91.0, status="corrected", meta={"versionId": "2"}),
             obs("q", identifier=ident, value=90.0, meta={"versionId": "1"})]  # arrives later, is older
    res = ingest_ndjson(write(tmp_path / "o.ndjson", lines), tmp_path / "out")
    assert reasons(res) == {2: "superseded"} and list(res.read()["value"]) == [91.0]


def test_duplicate_json_keys_are_ambiguous(tmp_path):
    ok = orjson.dumps(obs("k"))
    dup = ok.replace(b'"status":"final"', b'"status":"entered-in-error","status":"final"')
    res = ingest_ndjson(write(tmp_path / "d.ndjson", [ok.replace(b'"id":"k"', b'"id":"k2"'), dup]), tmp_path / "out")
    assert reasons(res) == {2: "duplicate_keys"} and "'status'" in res.rejects["detail"].iloc[0]


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_key_named_twice_anywhere_is_ambiguous(tmp_path, fast_path):
    ok = orjson.dumps(obs("k"))
    quantity = b'"valueQuantity":{"value":80.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}'
    assert quantity in ok
    lines = [ok.replace(quantity, quantity.replace(b"80.5", b"90") + b"," + quantity),  # the whole quantity twice
             ok.replace(b'"value":80.5', b'"value":90,"value":80.5'),                   # a value twice in one quantity
             ok.replace(b'"value":80.5', b'"value" :90, "value":80.5'),                 # the same, with spaces
             ok.replace(b'"code":"kg"', b'"c\\u006fde":"kg","code":"kg"'),            # an escaped key
             ok.replace(b'"id":"k"', b'"id":"k2"')]
    res = ingest_ndjson(write(tmp_path / "d.ndjson", lines), tmp_path / "out", options=IngestOptions(fast_path=fast_path))
    assert reasons(res) == {1: "duplicate_keys", 2: "duplicate_keys", 3: "duplicate_keys", 4: "duplicate_keys"}
    assert list(res.rejects["detail"][:3]) == ["key 'valueQuantity' appears twice in one object",
                                               *["key 'value' appears twice in one object"] * 2]


def test_an_output_folder_holding_other_files_is_refused_before_anything_is_written(tmp_path):
    from kuntalib.fhir.ingest import MARKER

    src = write(tmp_path / "in" / "o.ndjson", [obs("a")])
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("a researcher's notes", encoding="utf-8")
    with pytest.raises(FileExistsError, match="notes.txt"):
        ingest_ndjson(src, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # nothing written beside it either
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    (out / "notes.txt").unlink()
    ingest_ndjson(src, out)  # an empty folder is taken
    assert (out / MARKER).is_file()
    ingest_ndjson(src, out)  # and so is an earlier output, by its marker
    (out / MARKER).unlink()
    ingest_ndjson(src, out)  # an output written before the marker: observations/ and rejects.parquet alone
    (out / MARKER).unlink()
    (out / "rejects.parquet").unlink()
    with pytest.raises(FileExistsError, match="did not write"):
        ingest_ndjson(src, out)  # part of one is not known as an output
    (out / MARKER).write_text("", encoding="utf-8")
    (out / "observations" / "mine.csv").write_text("x", encoding="utf-8")
    ingest_ndjson(src, out)  # inside the output's own folders the ingest owns everything
    (out / "draft.docx").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="draft.docx"):
        ingest_ndjson(src, out)
    with pytest.raises(NotADirectoryError):
        ingest_ndjson(src, out / "draft.docx")


@pytest.mark.parametrize("fast_path", [True, False])
def test_minus_zero_is_zero_and_numbers_do_not_follow_the_locale(tmp_path, monkeypatch, fast_path):
    import locale

    other = {"code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}}  # not catalogued: 0 is plausible
    lines = [orjson.dumps(obs("a", value=80.5)), orjson.dumps(obs("z", value=0, when="2024-03-02T08:00:00Z", **other)),
             orjson.dumps(obs("m", when="2024-03-02T08:00:00Z", **other)).replace(b'"value":80.5', b'"value":-0')]
    path = write(tmp_path / "z.ndjson", lines)
    comma = {**locale.localeconv(), "decimal_point": ","}  # as after setlocale(LC_ALL, "fi_FI.UTF-8")
    before = locale.setlocale(locale.LC_NUMERIC)
    try:
        for decimal_comma in (False, True):
            if decimal_comma:  # a Finnish researcher's notebook: the real locale where installed, else its description
                try:
                    locale.setlocale(locale.LC_NUMERIC, "fi_FI.UTF-8")
                except locale.Error:
                    monkeypatch.setattr(locale, "localeconv", lambda: comma)
            res = ingest_ndjson(path, tmp_path / "out", options=IngestOptions(fast_path=fast_path))
            assert reasons(res) == {3: "duplicate_content"}
            values = res.read()["value"]
            assert list(values) == [80.5, 0.0] and str(values.iloc[1]) == "0.0"
    finally:
        locale.setlocale(locale.LC_NUMERIC, before)


def test_a_bulk_data_export_is_read_through_its_manifest(tmp_path):
    from kuntalib.fhir.ingest import BulkExportError, ingest_bulk_export

    export = tmp_path / "export"
    write(export / "Observation_1.ndjson", [obs("a"), obs("b", value=81.0)])
    gz = export / "Observation_2.ndjson.gz"
    gz.write_bytes(gzip.compress(b"\n".join(orjson.dumps(obs(c, patient="Patient/p9", value=70.0 + i))
                                            for i, c in enumerate("cde")) + b"\n"))
    write(export / "Device.ndjson", [{"resourceType": "Device", "id": "d1", "manufacturer": "Acme", "type": {"text": "scale"}}])
    write(export / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    manifest = {"transactionTime": "2024-03-02T00:00:00Z", "request": "https://fhir.example.fi/$export",
                "output": [{"type": "Observation", "url": "https://fhir.example.fi/files/Observation_1.ndjson", "count": 2},
                           {"type": "Observation", "url": "Observation_2.ndjson.gz", "count": 4},
                           {"type": "Device", "url": "Device.ndjson"}, {"type": "Patient", "url": "Patient.ndjson"}],
                "error": []}
    (export / "manifest.json").write_bytes(orjson.dumps(manifest))
    res = ingest_bulk_export(export, tmp_path / "out")
    assert (res.lines, res.accepted) == (5, 5)
    assert set(res.read()["source"]) == {"https://fhir.example.fi/files/Observation_1.ndjson", "Observation_2.ndjson.gz"}
    assert any("Patient.ndjson: type Patient not ingested" in n for n in res.notes)
    assert any("counts 4 resources, the file has 3 lines" in n for n in res.notes)
    manifest["deleted"] = [{"type": "Bundle", "url": "https://fhir.example.fi/files/del_1.ndjson"}]
    (export / "manifest.json").write_bytes(orjson.dumps(manifest))
    res = ingest_bulk_export(export, tmp_path / "out3")
    assert any(n.startswith("https://fhir.example.fi/files/del_1.ndjson: resources deleted") for n in res.notes)
    manifest["output"].append({"type": "Observation", "url": "https://fhir.example.fi/other/Observation_1.ndjson"})
    (export / "manifest.json").write_bytes(orjson.dumps(manifest))
    with pytest.raises(BulkExportError, match=r"output\[4\] .* and output\[0\] .* are the same file here"):
        ingest_bulk_export(export / "manifest.json", tmp_path / "out4")
    manifest["output"][-1] = {"type": "Observation", "url": "../elsewhere.ndjson"}
    (export / "manifest.json").write_bytes(orjson.dumps(manifest))
    with pytest.raises(BulkExportError, match=r"output\[4\]: '../elsewhere.ndjson' points outside"):
        ingest_bulk_export(export / "manifest.json", tmp_path / "out2")


def test_every_reject_reason_is_named_in_every_language():
    from kuntalib.fhir.parse import REASONS
    from kuntalib.i18n import LANGS, text

    for code in REASONS:
        assert all(text(f"fhir.reason.{code}", lang) for lang in LANGS), code


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_time_is_read_on_its_own_terms_whatever_shares_its_chunk(tmp_path, fast_path):
    """Found by the fast-path comparison: a chunk holding a nanosecond time used to send every time of the
    chunk through pandas, whose nanosecond range ends in 2262, so a time in 2824 was kept or rejected
    depending on its neighbours."""
    lines = [obs("far", when="2824-03-01T08:00:00+02:00"), obs("ns", when="2024-03-01T08:00:00.123456789Z"),
             obs("leap", when="2024-03-01T08:00:60Z")]
    got = {}
    for chunk in (1, 10):
        res = ingest_ndjson(write(tmp_path / "x.ndjson", lines), tmp_path / f"o{chunk}",
                            options=IngestOptions(chunk_lines=chunk, fast_path=fast_path))
        rows = res.read().set_index("observation_id")["time_utc"]
        got[chunk] = (reasons(res), rows.to_dict())
    assert got[1] == got[10]
    assert got[1][0] == {3: "bad_time"}  # a leap second is not a time
    assert str(got[1][1]["far"]) == "2824-03-01 06:00:00+00:00"
    assert str(got[1][1]["ns"]) == "2024-03-01 08:00:00.123456+00:00"  # beyond microseconds: dropped


_ZONES = ["Europe/Helsinki", "UTC", "America/New_York", "Europe/Dublin"]  # Dublin: "negative" DST in the tz database


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 12, 31)),
       st.sampled_from(_ZONES), st.integers(0, 9), st.booleans())
def test_local_times_are_read_as_pandas_reads_them(when, zone, digits, edge):
    """Naive times of the full forms are read by Arrow, the rest by pandas: both give the same UTC instant,
    DST-ambiguous times NaT and times in a DST gap moved forward, whatever else is in the chunk. (From 1970:
    pandas moves a time in a gap that is not a whole hour by an hour, see the Lord Howe test below.)"""
    from kuntalib.fhir.ingest import _to_utc

    if edge:  # next to one of this zone's offset changes of that year, where readings could differ
        when = near_a_clock_change(when, zone)
    text = when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{when.microsecond:06d}{'7' * max(0, digits - 6)}"[: digits + 1] if digits else "")
    texts = [text, text[:10], "2024-03", "2024"]
    got = _to_utc(texts, zone)[0].cast(pa.int64()).to_pylist()
    expect = []
    for t in texts:
        one = pd.to_datetime(pd.Series([t], dtype=object), format="ISO8601", errors="coerce")
        one = one.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
        expect.append(None if pd.isna(one[0]) else int(one.dt.tz_localize(None).to_numpy("datetime64[us]").astype("int64")[0]))
    assert got == expect


def test_a_time_in_a_half_hour_dst_gap_moves_to_the_end_of_the_gap():
    """Lord Howe Island moved its clocks half an hour on 1985-10-27 (02:00 -> 02:30, +10:30 -> +11:00):
    02:15 never happened there and is read as 02:30 (pandas' shift_forward would give 03:00)."""
    from kuntalib.fhir.ingest import _to_utc

    got = _to_utc(["1985-10-27T02:15:00", "1985-10-27T02:30:00"], "Australia/Lord_Howe")[0].to_pylist()
    assert [str(t) for t in got] == ["1985-10-26 15:30:00+00:00"] * 2


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_local_time_at_a_clock_change_is_rejected_or_moved_and_says_why(tmp_path, fast_path):
    """Read in Europe/Helsinki: 03:30 on 27.10.2024 happened twice (rejected, with the reason); 03:30 on 31.3.2024
    never happened (read as 04:00 local, the end of the gap, and flagged as read in the assumed zone)."""
    lines = [obs("twice", when="2024-10-27T03:30:00"), obs("gap", when="2024-03-31T03:30:00")]
    res = ingest_ndjson(write(tmp_path / "x.ndjson", lines), tmp_path / "o", options=IngestOptions(fast_path=fast_path))
    assert res.rejects[["line", "reason"]].values.tolist() == [[1, "bad_time"]]
    assert "occurs twice in Europe/Helsinki" in res.rejects["detail"][0]
    got = res.read().set_index("observation_id")
    assert str(got.loc["gap", "time_utc"]) == "2024-03-31 01:00:00+00:00" and bool(got.loc["gap", "tz_assumed"])


def test_an_unknown_assumed_time_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="'Europe/Helsingfors' is not an IANA time zone"):
        IngestOptions(assume_timezone="Europe/Helsingfors")
    assert IngestOptions(assume_timezone=None).assume_timezone is None


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_byte_order_mark_is_ignored_where_windows_tools_write_it(tmp_path, fast_path):
    """A UTF-8 byte order mark at the start of a file (or of a line, after `cat`-ing such files) is not data:
    RFC 8259 lets a parser ignore it, and the line is read. One anywhere else is still invalid JSON."""
    bom = b"\xef\xbb\xbf"
    lines = [obs("a"), obs("b", value=81.5), obs("c", value=82.5)]
    raw = [orjson.dumps(x) for x in lines]
    data = bom + raw[0] + b"\r\n" + bom + raw[1] + b"\n" + raw[2][:1] + bom + raw[2][1:] + b"\n"
    (tmp_path / "x.ndjson").write_bytes(data)
    (tmp_path / "x.ndjson.gz").write_bytes(gzip.compress(data))
    options = IngestOptions(fast_path=fast_path)
    for name in ("x.ndjson", "x.ndjson.gz"):
        res = ingest_ndjson(tmp_path / name, tmp_path / f"o-{name}", options=options)
        assert sorted(res.read()["observation_id"]) == ["a", "b"]
        assert res.rejects[["line", "reason"]].values.tolist() == [[3, "invalid_json"]]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": lines[0]}]}
    (tmp_path / "b.json").write_bytes(bom + orjson.dumps(bundle))
    res = ingest_bundles(tmp_path / "b.json", tmp_path / "ob", options=options)
    assert res.accepted == 1 and res.rejected == 0


def _gz_lines(n: int = 40) -> tuple[list[dict], bytes]:
    items = [obs(f"o{i}", value=60.0 + i) for i in range(n)]
    return items, b"".join(orjson.dumps(x) + b"\n" for x in items)


def _complete_lines(gz: bytes) -> tuple[int, bytes]:
    """(complete lines, the text after them) of a (perhaps cut-off) gzip stream, by zlib itself."""
    data = zlib.decompressobj(31).decompress(gz)
    return data.count(b"\n"), data.rpartition(b"\n")[2]


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_cut_off_gzip_keeps_its_complete_lines_and_marks_where_it_breaks(tmp_path, fast_path):
    """Found by trying an interrupted download: a truncated .ndjson.gz raised EOFError and cost the whole run
    (the other files' lines too), and gzip.open drops the last partly filled read, so even lines before the
    break were lost."""
    items, data = _gz_lines()
    whole = gzip.compress(data)
    half = data.index(b"\n", len(data) // 2) + 1
    enc = zlib.compressobj(9, zlib.DEFLATED, 31)
    at_line_end = enc.compress(data[:half]) + enc.flush(zlib.Z_FULL_FLUSH)  # stops exactly after a newline
    other = write(tmp_path / "other.ndjson", [obs("x", patient="Patient/p2")])
    options = IngestOptions(fast_path=fast_path)
    for k, cut in enumerate([whole[: len(whole) // 2], whole[:-8], at_line_end, whole[:5]]):
        f = tmp_path / f"cut{k}.ndjson.gz"
        f.write_bytes(cut)
        complete, tail = _complete_lines(cut)
        res = ingest_ndjson([other, f], tmp_path / f"o{k}", options=options)
        got = res.read()
        assert sorted(got[got["source"] == str(f)]["observation_id"]) == sorted(f"o{i}" for i in range(complete))
        assert list(got[got["source"] == str(other)]["observation_id"]) == ["x"]
        cut_rows = res.rejects[res.rejects["reason"] == "truncated_file"]
        assert cut_rows["line"].tolist() == [complete + 1] and cut_rows["source"].tolist() == [str(f)]
        assert "ends before its end marker" in cut_rows["detail"].iloc[0]
        assert ("breaks off here" in cut_rows["detail"].iloc[0]) == (not tail)
        assert cut_rows["raw"].iloc[0] == tail.decode()[:IngestOptions().max_raw_chars]
        assert res.accepted + res.rejected == res.lines == complete + 2


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_damaged_gzip_gives_no_rows_and_every_line_it_held_is_rejected(tmp_path, fast_path):
    items, data = _gz_lines()
    whole = bytearray(gzip.compress(data))
    crc = bytearray(whole)
    crc[-6] ^= 0x01  # the CRC-32 of the trailer: every byte decompresses, the check fails
    header = bytearray(whole)
    header[2] = 7  # compression method 7 does not exist: nothing decompresses
    other = write(tmp_path / "other.ndjson", [obs("x", patient="Patient/p2")])
    for name, bad, lines in (("crc", crc, len(items)), ("header", header, 1)):
        f = tmp_path / f"{name}.ndjson.gz"
        f.write_bytes(bytes(bad))
        res = ingest_ndjson([other, f], tmp_path / f"o-{name}", options=IngestOptions(fast_path=fast_path))
        assert list(res.read()["source"]) == [str(other)]
        rej = res.rejects
        assert (rej["reason"] == "corrupt_file").all() and rej["line"].tolist() == list(range(1, lines + 1))
        assert rej["detail"].str.contains("gzip").all() and res.lines == lines + 1 == res.rejected + 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000), bit=st.integers(0, 7), damage=st.booleans())
def test_a_broken_gzip_never_crashes_and_never_yields_a_changed_value(tmp_path, cut, flip, bit, damage):
    """Any prefix, or any one flipped bit, of a gzip file: the accounting holds, and every row written is one of
    the file's own (a cut-off file keeps a prefix of its lines; damage caught by gzip's checks keeps none)."""
    items, data = _gz_lines(30)
    raw = bytearray(gzip.compress(data))
    if damage:
        raw[flip % len(raw)] ^= 1 << bit
    else:
        raw = raw[: cut % (len(raw) + 1)]
    f = tmp_path / "x.ndjson.gz"
    f.write_bytes(bytes(raw))
    res = ingest_ndjson(f, tmp_path / "o")
    assert res.accepted + res.rejected == res.lines
    got = res.read()
    want = {f"o{i}": 60.0 + i for i in range(len(items))}
    assert all(want.get(i) == v for i, v in zip(got["observation_id"], got["value"], strict=True))
    if not damage:
        assert len(got) == min(_complete_lines(bytes(raw))[0], len(items))


def test_gzip_is_known_by_its_bytes_not_its_name(tmp_path):
    """A client that undoes the server's compression keeps the .gz name; a file saved without it may be gzip;
    a file of several gzip members (cat a.gz b.gz) is read whole, as gzip reads it."""
    items, data = _gz_lines(6)
    (tmp_path / "plain.ndjson.gz").write_bytes(data)
    (tmp_path / "packed.ndjson").write_bytes(gzip.compress(data))
    half = data.index(b"\n", len(data) // 2) + 1
    (tmp_path / "members.ndjson.gz").write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]) + b"\0" * 8)
    for name in ("plain.ndjson.gz", "packed.ndjson", "members.ndjson.gz"):
        res = ingest_ndjson(tmp_path / name, tmp_path / f"o-{name}", range_bytes=64)
        assert (res.lines, res.accepted) == (6, 6), name
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(orjson.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": x} for x in items]})))
    res = ingest_bundles(tmp_path / "b.json.gz", tmp_path / "ob")
    assert (res.lines, res.accepted) == (6, 6)
    (tmp_path / "cut.json.gz").write_bytes((tmp_path / "b.json.gz").read_bytes()[:-20])
    res = ingest_bundles(tmp_path / "cut.json.gz", tmp_path / "oc")
    assert (res.lines, res.rejected) == (1, 1) and res.rejects["reason"].tolist() == ["truncated_file"]


def test_device_files_are_read_plain_or_gzip_and_a_bad_line_is_named(tmp_path):
    from kuntalib.fhir.ingest import ingest_bulk_export, load_devices

    good = [{"resourceType": "Device", "id": "d1", "manufacturer": "Acme", "type": {"text": "scale"}},
            {"resourceType": "Device", "manufacturer": "no id"}, {"resourceType": "Patient", "id": "p1"}]
    lines = b"".join(orjson.dumps(x) + b"\n" for x in good) + b"{not json\n" + orjson.dumps(
        {"resourceType": "Device", "id": "d2", "identifier": [{"system": "urn:kuntalib:vendor:Omron"}]}) + b"\n"
    export = tmp_path / "export"
    export.mkdir()
    (export / "Device.ndjson.gz").write_bytes(gzip.compress(lines))
    with pytest.raises(ValueError, match=r"Device\.ndjson\.gz:4: not a readable Device"):
        load_devices([export / "Device.ndjson.gz"])
    skipped: list[str] = []
    assert load_devices([export / "Device.ndjson.gz"], skipped) == {"d1": ("Acme", "scale"), "d2": ("Omron", "unknown")}
    assert len(skipped) == 1 and f"{export / 'Device.ndjson.gz'}:4: not a readable Device (JSONDecodeError" in skipped[0]
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(gzip.compress(lines)[:-10])  # every line decompresses; the end marker is missing
    skipped = []
    assert load_devices([cut], skipped) == {"d1": ("Acme", "scale")}  # the last line may be cut: not read
    assert any(x.startswith(f"{cut}: the gzip stream ends before its end marker") and x.endswith("only its first 4 lines are read")
               for x in skipped)
    write(export / "Observation.ndjson", [obs("a", device={"reference": "Device/d1"})])
    manifest = {"output": [{"type": "Observation", "url": "Observation.ndjson"}, {"type": "Device", "url": "Device.ndjson.gz"}]}
    (export / "manifest.json").write_bytes(orjson.dumps(manifest))
    res = ingest_bulk_export(export, tmp_path / "out")
    assert res.read()["vendor"].tolist() == ["Acme"]
    assert any(":4: not a readable Device" in n for n in res.notes)


_json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=5),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                                ["resourceType", "device", "meta", "code", "coding", "reference", "source", "subject",
                                 "category", "component", "valueQuantity", "effectivePeriod", "system"]), inner, max_size=4),
                            max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(_json_values, min_size=1, max_size=6), junk=st.binary(max_size=20))
def test_the_conformance_report_reads_any_line(tmp_path, docs, junk):
    """Found by review: a line that is JSON but not an object (or has a list where an object belongs) raised
    AttributeError and cost the whole report. Every line is checked and fails where it is not a resource."""
    from kuntalib.fhir.conformance import conformance_report

    f = tmp_path / "x.ndjson"
    lines = [orjson.dumps(d) for d in docs] + ([junk.replace(b"\n", b" ")] if junk.strip() else [])
    f.write_bytes(b"\n".join([orjson.dumps(obs("ok")), *lines]) + b"\n")
    rep = conformance_report(f, sample_per_vendor=100)
    assert rep.vendors["checked"].sum() == 1 + len(lines)
    assert rep.vendors["conformant"].sum() <= 1


@pytest.mark.parametrize("fast_path", [True, False])
def test_utf16_text_is_read_as_the_text_it_is(tmp_path, fast_path):
    """Found by trying a file as PowerShell 5 writes it (`>` gives UTF-16 with a byte order mark): every line
    was a reject (`not UTF-8: byte 0`), and one more than the file had (the 00 after the last newline)."""
    items = [obs(f"u{i}", value=60.0 + i, patient=f"Patient/pä{i}") for i in range(4)]
    text = "\r\n".join(orjson.dumps(x).decode() for x in items) + "\r\n"
    lone = orjson.dumps(obs("s", patient="Patient/s")).decode().replace("Patient/s", "Patient/s\ud800")
    files = {"le.ndjson": b"\xff\xfe" + text.encode("utf-16-le"), "be.ndjson": b"\xfe\xff" + text.encode("utf-16-be"),
             "le.ndjson.gz": gzip.compress(b"\xff\xfe" + text.encode("utf-16-le")),
             "odd.ndjson": b"\xff\xfe" + text.encode("utf-16-le") + b"x",
             "lone.ndjson": b"\xff\xfe" + (text + lone + "\n").encode("utf-16-le", "surrogatepass")}
    options = IngestOptions(fast_path=fast_path)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        res = ingest_ndjson(tmp_path / name, tmp_path / f"o-{name}", options=options, range_bytes=64)
        got = res.read().sort_values("observation_id")
        assert got["observation_id"].tolist() == [f"u{i}" for i in range(4)], name
        assert got["patient"].tolist() == [f"pä{i}" for i in range(4)], name
        want = {"odd.ndjson": {5: "invalid_json"}, "lone.ndjson": {5: "unreadable"}}.get(name, {})
        assert reasons(res) == want and res.lines == 4 + len(want), name
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": x} for x in items]}
    (tmp_path / "b.json").write_bytes(b"\xff\xfe" + orjson.dumps(bundle).decode().encode("utf-16-le"))
    res = ingest_bundles(tmp_path / "b.json", tmp_path / "ob", options=options)
    assert (res.lines, res.accepted) == (4, 4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(0, 5), min_size=1, max_size=8),
       junk=st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12), max_size=3),
       order=st.sampled_from(["utf-16-le", "utf-16-be"]), packed=st.booleans())
def test_utf16_gives_what_the_same_text_in_utf8_gives(tmp_path, picks, junk, order, packed):
    """Whatever the text, a UTF-16 file (with its mark; plain or gzip) is accounted for line by line as the UTF-8 file is."""
    pool = [obs("a"), obs("b", value=81.0), obs("a", value=82.0), obs("c", patient="Patient/ö"), bp("d", 120, 80),
            obs("e", when="2024-03-01T08:00:00")]
    text = "\n".join([orjson.dumps(pool[i]).decode() for i in picks] + junk) + "\n"
    mark = b"\xff\xfe" if order == "utf-16-le" else b"\xfe\xff"
    wide = mark + text.encode(order)
    (tmp_path / "u8.ndjson").write_bytes(text.encode())
    (tmp_path / "u16.ndjson").write_bytes(gzip.compress(wide) if packed else wide)
    a = ingest_ndjson(tmp_path / "u8.ndjson", tmp_path / "a", range_bytes=64)
    b = ingest_ndjson(tmp_path / "u16.ndjson", tmp_path / "b")
    assert (a.lines, a.accepted) == (b.lines, b.accepted)
    rej = [r.rejects.assign(detail=r.rejects["detail"].str.replace(src, "SRC", regex=False))[["line", "reason", "detail", "raw"]]
           for r, src in ((a, str(tmp_path / "u8.ndjson")), (b, str(tmp_path / "u16.ndjson")))]
    assert rej[0].equals(rej[1])
    cols = ["line", "observation_id", "patient", "code", "value", "time_utc"]
    assert a.read(cols).sort_values(["line", "code"]).reset_index(drop=True).equals(
        b.read(cols).sort_values(["line", "code"]).reset_index(drop=True))


def test_the_conformance_report_reads_a_file_as_the_ingest_does(tmp_path):
    """gzip, UTF-16 and a byte order mark give the report of the plain file; a cut-off gzip file is named."""
    from kuntalib.fhir.conformance import conformance_report

    lines = [obs(f"c{i}", value=60.0 + i) for i in range(5)] + [bp("p", 120, 80), b"{broken"]
    plain = write(tmp_path / "plain.ndjson", lines)
    data = plain.read_bytes()
    (tmp_path / "packed.ndjson.gz").write_bytes(gzip.compress(data))
    (tmp_path / "wide.ndjson").write_bytes(b"\xff\xfe" + data.decode().encode("utf-16-le"))
    (tmp_path / "bom.ndjson").write_bytes(b"\xef\xbb\xbf" + data)
    want = conformance_report(plain, sample_per_vendor=50)
    for name in ("packed.ndjson.gz", "wide.ndjson", "bom.ndjson"):
        got = conformance_report(tmp_path / name, sample_per_vendor=50)
        assert got.vendors.equals(want.vendors) and got.issues.equals(want.issues), name
    (tmp_path / "cut.ndjson.gz").write_bytes(gzip.compress(data)[:-12])
    with pytest.raises(ValueError, match=r"cut\.ndjson\.gz: the gzip stream ends before its end marker"):
        conformance_report(tmp_path / "cut.ndjson.gz")
