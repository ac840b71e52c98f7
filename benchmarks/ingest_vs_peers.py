"""Benchmark: FHIR device-data ingest of kuntalib against peers, on the same simulated file, in one run.

Every method runs in its own fresh process (so peak memory is its own) on the same
Observation NDJSON, ``--repeat`` times (memory in up to three further runs of its own); the script
prints median seconds, lines a second, median peak memory and the ratio of kuntalib's throughput to each peer's:

* ``kuntalib`` — :func:`kuntalib.fhir.ingest.ingest_ndjson` as a user calls it (tidy Parquet, every
  check, rejects with reasons, versions and de-duplication; ``workers`` threads, Arrow's JSON reader
  and whole-column checks for the plain line and :class:`~kuntalib.fhir.parse.ObservationParser` for the rest);
* ``kuntalib-pyparser`` — the same with ``IngestOptions(fast_path=False)``: every line through the
  reference parser (``workers`` processes);
* ``kuntalib+dask`` — the same work units on a Dask LocalCluster (cluster start not timed);
* ``duckdb`` — ``read_ndjson`` with DuckDB's defaults (what a user types), + ``unnest`` to the same
  tidy columns (LOINC picked by system, components unnested, times cast to TIMESTAMPTZ), written to
  Parquet; no de-duplication, no reject accounting, no unit or time checks;
* ``duckdb-fullscan`` — the same with ``sample_size=-1, ignore_errors=true`` (a full schema pass, and
  malformed lines skipped silently), as a second row;
* ``msgspec-decode`` — decoding each line into the reference parser's typed structs, one core,
  nothing else (no checks, no output): the ceiling of the per-line Python path;
* ``kuntalib-read`` and ``parquet-write`` — two parts of ``kuntalib`` alone: the columnar path over
  the file (read as the ingest reads it: one reused buffer, a chunk of lines a call, Arrow's JSON
  reader on its threads and the whole-column checks; no reference parser, no output), and writing the
  ingest's own output (read back before the clock starts) to Parquet with the ingest's settings, one core.
  They are not peers: they show how much of the 0.75× target's CPU budget the two parts every run
  needs already take;
* ``arrow-json`` and ``duckdb-parse`` — the first step of letting Arrow or DuckDB do the heavy lifting
  under kuntalib's accounting: parsing the file into Arrow columns, nothing else, with an explicit schema of
  the fields the ingest reads (:data:`READ_SCHEMA`; no schema inference) and each library's default
  threads (``pyarrow.json.read_json``; DuckDB ``read_json(..., columns=...)`` to an Arrow table). Compared
  with ``kuntalib-read``, not ratioed;
* ``duckdb-lines`` — the design #31 leans to: the lines cut as the ingest cuts them (a block of bytes, its
  line ends found by numpy), handed to DuckDB as one Arrow string column (no copy) and read there with
  ``json_transform`` into :data:`READ_SCHEMA`'s structure, one row per line, so that every line keeps its
  number and a line DuckDB cannot read is a NULL of its own (``TRY``), not a failed file. Parse only
  (``json_transform``: ``json_transform_strict`` fails a line for every optional key it lacks);
* ``fhir.resources`` — strict R4B validation, one resource at a time (timed on a sample);
* ``fhiry`` — ``Fhirndjson`` flattening (timed on a sample, it is slow);

plus the simulator's throughput (resources a second, including NDJSON writing). Machines
here are small and noisy: read the ratios, not the seconds.

``--files-of N`` cuts the Observation file into files of N lines in one folder, as FHIR Bulk Data
servers write an export (HAPI FHIR: 1 000 resources a file by default), and every method reads all of
them: kuntalib is given the list of files, DuckDB a glob, the others read the files one after another.

    .venv/bin/python benchmarks/ingest_vs_peers.py --clients 300 --days 84 --repeat 3
    .venv/bin/python benchmarks/ingest_vs_peers.py --files-of 1000 --methods kuntalib,duckdb
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from kuntalib.fhir import columns

DUCKDB_SQL = """
COPY (
  WITH o AS (SELECT * FROM read_ndjson('{path}'{options})),
  base AS (
    SELECT id, subject.reference AS patient, device.reference AS device,
           coalesce(CAST(effectiveDateTime AS VARCHAR), CAST(effectivePeriod.start AS VARCHAR)) AS effective, issued,
           list_filter(code.coding, lambda c: c.system = 'http://loinc.org')[1].code AS code,
           valueQuantity, component
    FROM o WHERE resourceType = 'Observation'),
  simple AS (
    SELECT id, patient, device, TRY_CAST(effective AS TIMESTAMPTZ) AS time_utc, code,
           valueQuantity.value AS value, coalesce(valueQuantity.code, valueQuantity.unit) AS unit
    FROM base WHERE component IS NULL),
  comp AS (
    SELECT id, patient, device, effective, unnest(component) AS c FROM base WHERE component IS NOT NULL),
  comp2 AS (
    SELECT id, patient, device, TRY_CAST(effective AS TIMESTAMPTZ) AS time_utc,
           list_filter(c.code.coding, lambda x: x.system = 'http://loinc.org')[1].code AS code,
           c.valueQuantity.value AS value, coalesce(c.valueQuantity.code, c.valueQuantity.unit) AS unit
    FROM comp)
  SELECT * FROM simple UNION ALL SELECT * FROM comp2
) TO '{out}' (FORMAT parquet)
"""


#: The Observation fields kuntalib's ingest reads, as an Arrow schema (derived from the reference parser's structs).
READ_SCHEMA = pa.schema(columns.READ_SCHEMA)


def json_structure(t: pa.DataType) -> object:
    """The ``json_transform`` structure of an Arrow type of :data:`READ_SCHEMA` (derived, never written twice)."""
    if pa.types.is_list(t):
        return [json_structure(t.value_type)]
    if pa.types.is_struct(t):
        return {f.name: json_structure(f.type) for f in t}
    return duckdb_type(t)


def duckdb_type(t: pa.DataType) -> str:
    """The DuckDB type of an Arrow type of :data:`READ_SCHEMA` (strings, numbers, booleans, structs and lists of them)."""
    if pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_list(t):
        return duckdb_type(t.value_type) + "[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in t) + ")"
    raise TypeError(f"no DuckDB type for {t}")


class _PeakMemory:
    """Samples the memory (PSS) of this process and all its children every 20 ms; keeps the peak (MiB).

    ``ru_maxrss`` would carry the parent's peak across exec on Linux, so the tree is sampled instead.
    """

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:  # PSS shares pages that forked workers have in common, instead of counting them twice
                total += p.memory_full_info().pss
            except (psutil.Error, AttributeError):
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.02)

    def __enter__(self) -> _PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def mib(self) -> float:
        return self.peak / 2**20


#: kuntalib's whole ingest, three ways.
_INGESTS = ("kuntalib", "kuntalib-pyparser", "kuntalib+dask")
#: Parts of kuntalib timed alone (not peers: no ratio is printed against them).
_PARTS = ("kuntalib-read", "parquet-write")
#: The parse alone by libraries that could take it over (compared with kuntalib-read, not ratioed).
_DELEGATES = ("arrow-json", "duckdb-parse", "duckdb-lines")


def _inputs(path: str) -> tuple[list[Path], str, Path]:
    """The Observation files of ``path`` (a file, or a folder of ``Observation-*.ndjson``), the same as one
    glob for DuckDB, and the Device file beside them."""
    if Path(path).is_dir():
        return sorted(Path(path).glob("Observation-*.ndjson")), str(Path(path) / "Observation-*.ndjson"), Path(path) / "Device.ndjson"
    return [Path(path)], path, Path(path).with_name("Device.ndjson")


def _lines_of(files: list[Path]):
    """Every line of the files, one after another."""
    for f in files:
        with open(f, "rb") as fh:
            yield from fh


def run_method(method: str, path: str, out: str, workers: int, sample: int, memory: bool = False) -> dict:
    """Run one method once in this process; return seconds, lines handled and (``memory``) peak memory.

    ``path`` is the Observation file, or a folder of them (``--files-of``). Memory is sampled in a
    separate run: reading /proc for every process of the tree steals CPU from the method being timed,
    more so from multi-process ones.
    """
    files, glob, device_file = _inputs(path)
    lines = sum(1 for _ in _lines_of(files))
    client = runner = None
    if method in _INGESTS:  # imports (and a Dask cluster) are set up before the clock starts
        from kuntalib.fhir.ingest import ingest_ndjson, load_devices
        from kuntalib.fhir.parse import IngestOptions
    elif method.startswith("duckdb"):
        import duckdb
    elif method == "msgspec-decode":
        from kuntalib.fhir.parse import _DECODER
    elif method == "kuntalib-read":
        from kuntalib.fhir import columns
        from kuntalib.fhir.ingest import _BLOCK_BYTES, _line_spans, _read_into, _Stream, line_spans
        from kuntalib.fhir.parse import IngestOptions, ObservationParser

        defaults = IngestOptions()
        parser = ObservationParser(defaults)
    elif method == "arrow-json":
        import pyarrow.json as pj

        parse_options = pj.ParseOptions(explicit_schema=READ_SCHEMA, unexpected_field_behavior="ignore")
        pa.set_cpu_count(workers)
    elif method == "parquet-write":
        import pyarrow.parquet as pq

        from kuntalib.fhir.ingest import TIDY_SCHEMA, ingest_ndjson, load_devices, write_observation_file

        done = ingest_ndjson(files, out, devices=load_devices([device_file]), workers=workers)
        tables = [pq.read_table(f, schema=TIDY_SCHEMA).combine_chunks() for f in sorted(done.observations_dir.rglob("*.parquet"))]
    if method == "kuntalib+dask":  # only this method imports the Dask glue (a plain ingest does not load it)
        from distributed import Client, LocalCluster

        from kuntalib.fhir.scale import dask_runner

        client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None))
        runner = dask_runner(client)
    meter = _PeakMemory().__enter__() if memory else None
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    if method in _INGESTS:
        devices = load_devices([device_file])
        options = IngestOptions(fast_path=method != "kuntalib-pyparser")
        res = ingest_ndjson(files, out, devices=devices, workers=workers, runner=runner, options=options)
        handled = res.lines
    elif method == "duckdb-parse":
        con = duckdb.connect()
        con.execute(f"SET threads TO {workers}")
        spec = ", ".join(f"{f.name}: '{duckdb_type(f.type)}'" for f in READ_SCHEMA)
        handled = con.sql(f"SELECT * FROM read_json('{glob}', format='newline_delimited', columns={{{spec}}})").to_arrow_table().num_rows
    elif method == "arrow-json":
        handled = sum(pj.read_json(f, parse_options=parse_options).num_rows for f in files)
    elif method == "duckdb-lines":
        con = duckdb.connect()
        con.execute(f"SET threads TO {workers}")
        structure = json.dumps(json_structure(pa.struct(list(READ_SCHEMA))))
        handled = 0
        for f in files:
            data = np.fromfile(f, np.uint8)
            ends = np.flatnonzero(data == 10)
            starts = np.concatenate([[0], ends[:-1] + 1]) if len(ends) else np.zeros(0, np.int64)
            for lo in range(0, len(starts), 50_000):  # the ingest's chunk of lines
                s, e = starts[lo:lo + 50_000], ends[lo:lo + 50_000]
                offsets = np.concatenate([s, e[-1:]]).astype(np.int64)
                body = pa.LargeStringArray.from_buffers(len(s), pa.py_buffer(offsets - offsets[0]),
                                                        pa.py_buffer(data[offsets[0]:offsets[-1]]))
                # in batches of DuckDB's vector size, so that its threads share the work (one batch: one thread)
                lines_table = pa.Table.from_batches(pa.table({"line": body}).to_batches(max_chunksize=2048))  # noqa: F841
                got = con.sql(f"SELECT TRY(json_transform(line, '{structure}')) AS o FROM lines_table").to_arrow_table()
                handled += got.num_rows
    elif method.startswith("duckdb"):
        con = duckdb.connect()
        con.execute(f"SET threads TO {workers}")
        options = ", sample_size=-1, ignore_errors=true" if method == "duckdb-fullscan" else ""
        con.execute(DUCKDB_SQL.format(path=glob, out=out + ".parquet", options=options))
        handled = lines
    elif method == "msgspec-decode":
        decode = _DECODER.decode
        handled = 0
        for raw in _lines_of(files):
            try:
                decode(raw)
            except Exception:  # noqa: BLE001, S112 - the ceiling counts decoding only
                pass
            handled += 1
    elif method == "kuntalib-read":  # read as the ingest reads (one reused buffer), a chunk of lines at a time as it is
        handled, stream = 0, _Stream()
        for f in files:
            for buf, pos, end in _line_spans(_read_into(f, 0, os.path.getsize(f), _BLOCK_BYTES, stream), stream):
                starts, ends, blank = line_spans(buf, pos, end)
                full = np.flatnonzero(~blank)
                for lo in range(0, len(full), defaults.chunk_lines):
                    at = full[lo:lo + defaults.chunk_lines]
                    columns.read_lines(buf, starts[at], ends[at], at, parser, None)
                handled += len(full)
    elif method == "parquet-write":
        for i, table in enumerate(tables):
            write_observation_file(table, f"{out}-{i}.parquet")
        handled = lines
    elif method == "fhir.resources":
        from kuntalib.fhir.conformance import validate_r4b

        every = _lines_of(files)
        batch = [next(every) for _ in range(min(sample, lines))]
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        for raw in batch:
            validate_r4b(raw)
        handled = len(batch)
    elif method == "fhiry":
        from fhiry.fhirndjson import Fhirndjson

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        every = _lines_of(files)
        with open(folder / "sample.ndjson", "wb") as dst:
            for _ in range(min(sample, lines)):
                dst.write(next(every))
        os.environ["TQDM_DISABLE"] = "1"
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        f = Fhirndjson()
        f.folder = str(folder)
        f.process_source()
        handled = min(sample, lines)
    else:
        raise ValueError(method)
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0 if method != "kuntalib+dask" else float("nan")  # Dask's workers live on: not counted
    if meter is not None:
        meter.__exit__()
    if client is not None:
        client.cluster.close()
        client.close()
    return {"method": method, "seconds": seconds, "cpu": cpu, "lines": handled, "peak_mib": meter.mib if meter else float("nan")}


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its child processes that have ended (``os.times``: on Windows
    the children's share is not reported, so there the CPU column counts this process only)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _child(method: str, path: str, workers: int, sample: int, memory: bool = False) -> dict:
    """One run of ``method`` in a fresh process; a method that fails gives ``{"error": its last line}``."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--child", method, "--file", path, "--out", str(Path(tmp) / "o"),
               "--workers", str(workers), "--sample", str(sample), *(["--memory"] if memory else [])]
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        if res.returncode:  # e.g. DuckDB's default schema sample on a small file misses a field the query names
            lines = [ln.strip() for ln in res.stderr.splitlines() if "Error" in ln or "Exception" in ln]
            return {"method": method, "error": (lines or [f"exit status {res.returncode}"])[-1]}
        return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=300)
    ap.add_argument("--days", type=int, default=84)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=2000, help="lines timed for the slow per-resource peers")
    ap.add_argument("--files-of", type=int, default=0, metavar="N",
                    help="cut the Observation file into files of N lines, as a Bulk Data export (0: one file)")
    ap.add_argument("--methods", default="kuntalib,kuntalib-pyparser,kuntalib+dask,duckdb,duckdb-fullscan,msgspec-decode,"
                                         "kuntalib-read,parquet-write,arrow-json,duckdb-parse,duckdb-lines,fhir.resources,fhiry")
    ap.add_argument("--child")
    ap.add_argument("--file")
    ap.add_argument("--out")
    ap.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_method(args.child, args.file, args.out, args.workers, args.sample, args.memory)))
        return

    from kuntalib.fhir.resources import write_ndjson
    from kuntalib.fhir.simulate import CohortConfig, simulate_cohort

    with tempfile.TemporaryDirectory() as tmp:
        sim_times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            cohort = simulate_cohort(CohortConfig(n_clients=args.clients, days=args.days), 2021)
            files = write_ndjson(cohort, tmp)
            sim_times.append(time.perf_counter() - t0)
        path = str(files["Observation"])
        n_lines = len(cohort.measurements)
        size = os.path.getsize(path) / 2**20
        print(f"file: {n_lines:,} Observation lines, {size:,.0f} MiB ({args.clients} clients × {args.days} days, synthetic)")
        if args.files_of:
            export = Path(tmp) / "export"
            export.mkdir()
            shutil.copy(files["Device"], export / "Device.ndjson")
            with open(path, "rb") as fh:
                for k, chunk in enumerate(iter(lambda: list(itertools.islice(fh, args.files_of)), [])):
                    (export / f"Observation-{k:05d}.ndjson").write_bytes(b"".join(chunk))
            path = str(export)
            print(f"cut into {k + 1:,} files of {args.files_of:,} lines, as a Bulk Data export; every method reads them all")
        print(f"simulator: median {statistics.median(sim_times):.2f} s = {n_lines / statistics.median(sim_times):,.0f} resources/s "
              "(simulate + write NDJSON)")
        results: dict[str, list[dict]] = {}
        peak_runs: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            for method in args.methods.split(","):
                results.setdefault(method, []).append(_child(method, path, args.workers, args.sample))
        for _ in range(min(3, args.repeat)):  # memory in runs of its own, interleaved too; the median is printed
            for method in args.methods.split(","):
                run = _child(method, path, args.workers, args.sample, memory=True)
                peak_runs.setdefault(method, []).append(run.get("peak_mib", float("nan")))
                if "error" in run:
                    results.setdefault(method, []).append(run)
        failed = {m: next(r["error"] for r in runs if "error" in r) for m, runs in results.items() if any("error" in r for r in runs)}
        results = {m: runs for m, runs in results.items() if m not in failed}
        peaks = {m: statistics.median(p) for m, p in peak_runs.items() if m not in failed}
        rates = {}
        print(f"\n{'method':16s} {'median s':>9s} {'CPU s':>7s} {'lines/s':>12s} {'peak MiB':>9s}  (lines timed; CPU = user + "
              "system of the timed work, its processes included; peak = PSS of the process tree, median of separate runs)")
        for method, runs in results.items():
            sec = statistics.median(r["seconds"] for r in runs)
            lines = runs[0]["lines"]
            rates[method] = lines / sec
            peak = peaks[method]
            cpu = statistics.median(r["cpu"] for r in runs)
            print(f"{method:16s} {sec:9.2f} {cpu:7.2f} {rates[method]:12,.0f} {peak:9.0f}  ({lines:,})")
        for method, error in failed.items():
            print(f"{method:16s} failed: {error}")
        if "kuntalib" in rates:
            print("\nthroughput ratio kuntalib / peer (median of runs, same file, same run):")
            for method, rate in rates.items():
                if method not in ("kuntalib", "kuntalib-pyparser", "msgspec-decode", *_PARTS, *_DELEGATES):
                    print(f"  vs {method:16s} {rates['kuntalib'] / rate:8.2f}×")
            if "duckdb" in rates:
                ratio = rates["kuntalib"] / rates["duckdb"]
                print(f"  target (restated in #31): kuntalib >= 0.75× DuckDB with its defaults, aiming at 1×: "
                      f"{'met' if ratio >= 0.75 else 'NOT met'} ({ratio:.2f}×)"
                      f"; peak memory kuntalib {peaks['kuntalib']:.0f} MiB vs DuckDB {peaks['duckdb']:.0f} MiB")
            if "msgspec-decode" in rates:
                print(f"  per-line Python ceiling (msgspec decode alone, one core): {rates['msgspec-decode']:,.0f} lines/s; "
                      f"kuntalib runs at {rates['kuntalib'] / rates['msgspec-decode']:.2f}× it with {args.workers} workers")
            if "kuntalib-pyparser" in rates:
                print(f"  the columnar path: {rates['kuntalib'] / rates['kuntalib-pyparser']:.2f}× the reference parser alone")
            if "duckdb" in rates and all(p in results for p in _PARTS):
                cpu = {m: statistics.median(r["cpu"] for r in results[m]) for m in ("kuntalib", *_PARTS)}
                budget = args.workers * statistics.median(r["seconds"] for r in results["duckdb"]) / 0.75
                rest = cpu["kuntalib"] - cpu["kuntalib-read"] - cpu["parquet-write"]
                left = budget - cpu["kuntalib-read"] - cpu["parquet-write"]
                print(f"  the 0.75× target's CPU budget: at most {budget:.2f} CPU-s on {args.workers} cores even if every core "
                      f"were busy all the time; kuntalib used {cpu['kuntalib']:.2f}: the columnar read alone "
                      f"{cpu['kuntalib-read']:.2f}, writing the output alone {cpu['parquet-write']:.2f}, everything else "
                      f"{rest:.2f} (times, versions and duplicates, staging, accounting; "
                      + (f"the budget leaves {left:.2f} for it)" if left >= 0 else
                         f"the two parts alone exceed the budget by {-left:.2f})"))
            if "kuntalib-read" in results and any(d in results for d in _DELEGATES):
                scan_cpu = statistics.median(r["cpu"] for r in results["kuntalib-read"])
                for d in _DELEGATES:
                    if d in results:
                        d_cpu = statistics.median(r["cpu"] for r in results[d])
                        print(f"  parsing by {d} (into Arrow columns, nothing else): {d_cpu:.2f} CPU-s, "
                              f"{d_cpu / scan_cpu:.2f}× kuntalib's columnar read with its checks ({scan_cpu:.2f})")


if __name__ == "__main__":
    main()
