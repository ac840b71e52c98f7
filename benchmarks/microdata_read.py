"""Benchmark: reading a national-size survey export (SYNTHETIC) — kuntalib's checked reader vs pandas.

Writes the shipped synthetic export's answers tiled to ``--rows`` respondents (new ids, the
same 52 columns, ``;``-separated UTF-8) and reads it, each run in a fresh process, interleaved:

- ``kuntalib``: :func:`kuntalib.barometer.microdata.read_wide` — decodes, splits with physical
  line numbers, checks every field against the code table, rejects rows with reasons and
  builds the long table (one row per answer, ~9 million at 200 000 respondents);
- ``pandas``: ``pandas.read_csv(path, sep=";")``, what a user types: parses into a wide frame and
  checks nothing.

Prints the median seconds and peak memory (PSS of the process, sampled every 20 ms) of each,
their ratio, and whether kuntalib meets the target (200 000 rows under 5 s and 500 MB).

    .venv/bin/python benchmarks/microdata_read.py --rows 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

TARGET_SECONDS, TARGET_MIB = 5.0, 500.0


def write_file(path: Path, rows: int) -> int:
    """The synthetic export tiled to ``rows`` data rows; returns its size in bytes."""
    import pandas as pd

    from kuntalib.provenance import open_raw

    src, _ = open_raw("barometer/2022/synthetic_microdata.csv")
    base = pd.read_csv(src, sep=";", dtype=str, keep_default_na=False)
    reps = -(-rows // len(base))
    big = pd.concat([base] * reps, ignore_index=True).head(rows)
    big["respondent_id"] = [f"s{i:07d}" for i in range(1, rows + 1)]
    big["organisation_id"] = [f"o{i // 2:07d}" for i in range(rows)]
    big.to_csv(path, sep=";", index=False, lineterminator="\n")
    return path.stat().st_size


def run_one(method: str, path: str) -> None:
    """In a fresh process: read the file one way; print seconds, peak MiB and rows as JSON."""
    import pandas as pd
    from ingest_vs_peers import _PeakMemory

    from kuntalib.barometer.microdata import read_wide
    from kuntalib.barometer.published import load_published

    figures = load_published().figures
    with _PeakMemory() as meter:
        t0 = time.perf_counter()
        if method == "kuntalib":
            res = read_wide(path, figures)
            rows, detail = res.n_rows, {"accepted": res.n_accepted_rows, "answers": len(res.data)}
        else:
            df = pd.read_csv(path, sep=";")
            rows, detail = len(df), {}
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "mib": meter.mib, "rows": rows, **detail}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        run_one(*args.one)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        size = write_file(path, args.rows)
        print(f"SYNTHETIC export: {args.rows:,} rows, {size / 2**20:.1f} MiB, 52 columns")
        results: dict[str, list[dict]] = {"kuntalib": [], "pandas": []}
        for _ in range(args.repeat):
            for method in results:
                out = subprocess.run([sys.executable, __file__, "--one", method, str(path)], capture_output=True, text=True, check=True)
                results[method].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {m: (statistics.median(r["seconds"] for r in rs), statistics.median(r["mib"] for r in rs)) for m, rs in results.items()}
    print(f"{'method':10s} {'seconds':>8s} {'peak MiB':>9s}   what it does")
    print(f"{'kuntalib':10s} {med['kuntalib'][0]:8.2f} {med['kuntalib'][1]:9.0f}   decode, split by physical line, check every field, "
          f"reject with reasons, long table ({results['kuntalib'][0]['answers']:,} answers)")
    print(f"{'pandas':10s} {med['pandas'][0]:8.2f} {med['pandas'][1]:9.0f}   read_csv(sep=';') defaults: wide frame, no checks")
    print(f"ratio kuntalib / pandas: time {med['kuntalib'][0] / med['pandas'][0]:.2f}×, memory {med['kuntalib'][1] / med['pandas'][1]:.2f}×")
    ok = med["kuntalib"][0] < TARGET_SECONDS and med["kuntalib"][1] < TARGET_MIB
    print(f"target (< {TARGET_SECONDS:.0f} s and < {TARGET_MIB:.0f} MB for {args.rows:,} rows): {'met' if ok else 'NOT met'} "
          f"(median of {args.repeat}, whole-process peak including the interpreter and libraries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
