"""Scale-out on Dask: the same ingest and analyses on a cluster, and a national-scale simulation.

Nothing here computes differently from the single-machine path; it only runs the same
work units elsewhere:

* :func:`dask_runner` runs the ingest's work units (byte ranges, then patient buckets) as
  Dask futures, so ``ingest_ndjson(..., runner=dask_runner(client))`` writes the same
  Parquet dataset and the same rejects as ``workers=2`` on one machine.
* The tidy dataset is partitioned by a hash of the patient (``observations/bucket=K/``), and a
  patient's rows never span two partitions, so every per-patient analysis is exact
  partition by partition: :func:`analyse` maps the pandas functions of
  :mod:`kuntalib.fhir.analysis` over the partitions and combines the results.
* :func:`simulate_national` simulates a cohort of any size in batches of clients, each an
  independent seeded stream, writing one Parquet (and optionally NDJSON) part per batch:
  memory is bounded by the batch, not the cohort.

On a SLURM cluster, :func:`slurm_cluster` builds a dask-jobqueue ``SLURMCluster``; see
``docs/scale-out.md``. Storage (``out_dir``) must be shared by all workers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from kuntalib.fhir import analysis
from kuntalib.fhir.ingest import OBSERVATION_COLUMNS, REJECT_SCHEMA, TIDY_SCHEMA, Runner, local_runner
from kuntalib.fhir.resources import write_ndjson
from kuntalib.fhir.simulate import CohortConfig, simulate_cohort

__all__ = ["dask_runner", "read_observations_dask", "observation_partitions", "analyse", "Analyses", "simulate_national",
           "NationalRun", "slurm_cluster"]


def dask_runner(client: Any) -> Runner:
    """A runner for :func:`kuntalib.fhir.ingest.ingest_ndjson` that submits each work unit to ``client``."""

    def run(fn, tasks: list[tuple]) -> list:
        if not tasks:
            return []
        futures = client.map(fn, *zip(*tasks, strict=True), pure=False)
        return client.gather(futures)

    return run


def observation_partitions(out_dir: str | Path) -> list[Path]:
    """The Parquet files of an ingest's tidy dataset, one per patient bucket, in bucket order."""
    return sorted((Path(out_dir) / "observations").glob("bucket=*/*.parquet"))


def read_observations_dask(out_dir: str | Path, columns: list[str] | None = None):
    """The tidy dataset as a ``dask.dataframe`` with one partition per patient bucket."""
    import dask.dataframe as dd  # 1-2 s to import: only where a Dask frame is asked for

    files = [str(p) for p in observation_partitions(out_dir)]
    return dd.read_parquet(files, columns=columns or OBSERVATION_COLUMNS)


def _read(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    return pq.read_table(path, columns=columns, schema=TIDY_SCHEMA).to_pandas()


def _partition_task(path: str, start: str, days: int, tz: str, codes: tuple[str, ...] | None, thresholds: pd.DataFrame,
                    late_hours: float, ahead_minutes: float) -> dict[str, pd.DataFrame]:
    obs = _read(path)
    return {
        "quality": analysis.quality_partial(obs, late_hours=late_hours, ahead_minutes=ahead_minutes),
        "adherence": analysis.adherence(obs, start=start, days=days, tz=tz, codes=codes),
        "alerts": analysis.alerts(obs, thresholds, tz=tz),
        "daily": analysis.bp_daily_means(obs, start=start, tz=tz),
    }


@dataclass(frozen=True)
class Analyses:
    """Results of :func:`analyse`, equal to the single-machine functions on the whole table."""

    quality: pd.DataFrame
    adherence: pd.DataFrame
    alerts: pd.DataFrame
    daily: pd.DataFrame

    def trend(self, *, min_days: int = 7, max_patients: int | None = None, rng: int = 0) -> analysis.TrendResult:
        """The mixed model on the daily means; ``max_patients`` fits a seeded random sample of patients."""
        daily = self.daily
        if max_patients is not None and daily["patient"].nunique() > max_patients:
            keep = pd.Series(daily["patient"].unique()).sample(max_patients, random_state=rng)
            daily = daily[daily["patient"].isin(set(keep))]
        return analysis.fit_trend(daily, min_days=min_days)


def analyse(out_dir: str | Path, rejects: pd.DataFrame, thresholds: pd.DataFrame, *, start: str, days: int,
            tz: str = "Europe/Helsinki", codes: tuple[str, ...] | None = None, client: Any = None,
            late_hours: float = 24.0, ahead_minutes: float = 5.0) -> Analyses:
    """Quality, adherence, alerts and BP daily means, partition by partition (on ``client`` if given)."""
    files = [str(p) for p in observation_partitions(out_dir)]
    args = (start, days, tz, codes, thresholds, late_hours, ahead_minutes)
    if client is not None:
        parts = client.gather(client.map(_partition_task, files, *[[a] * len(files) for a in args], pure=False))
    else:
        parts = [_partition_task(f, *args) for f in files]
    quality_sum = pd.concat([p["quality"] for p in parts]).groupby(level=0).sum()

    def cat(key: str, sort: list[str]) -> pd.DataFrame:
        frames = [p[key] for p in parts if len(p[key])]
        if not frames:
            return parts[0][key] if parts else pd.DataFrame()
        return pd.concat(frames, ignore_index=True).sort_values(sort, kind="stable").reset_index(drop=True)

    rej = rejects if len(rejects) else pd.DataFrame(columns=REJECT_SCHEMA.names)
    return Analyses(
        quality=analysis.quality_finish(quality_sum, rej),
        adherence=cat("adherence", ["patient", "week"]),
        alerts=cat("alerts", ["time_utc", "patient", "rule_id"]),
        daily=cat("daily", ["patient", "day"]),
    )


@dataclass(frozen=True)
class NationalRun:
    """What :func:`simulate_national` wrote: one part per batch and the totals."""

    out_dir: Path
    batches: int
    clients: int
    measurements: int
    parts: list[Path]


def _national_batch(config_kwargs: dict, batch: int, clients: int, seed: int, out_dir: str, ndjson: bool) -> tuple[int, str]:
    cfg = replace(CohortConfig(**config_kwargs), n_clients=clients)
    rng = np.random.default_rng(np.random.SeedSequence([seed, batch]))
    cohort = simulate_cohort(cfg, rng)
    out = Path(out_dir)
    part = out / "truth" / f"batch={batch:06d}.parquet"
    part.parent.mkdir(parents=True, exist_ok=True)
    m = cohort.measurements.assign(synthetic=True, batch=batch)
    m.to_parquet(part, index=False)
    if ndjson:
        write_ndjson(cohort, out / "fhir" / f"batch={batch:06d}")
    return len(m), str(part)


def simulate_national(n_clients: int, days: int, out_dir: str | Path, *, batch_clients: int = 1000, seed: int = 0,
                      config: Any = None, ndjson: bool = False, client: Any = None, workers: int = 1) -> NationalRun:
    """Simulate ``n_clients`` clients for ``days`` days in batches, in memory bounded by ``batch_clients``.

    Batch *b* uses the seed sequence ``[seed, b]``, so a run is reproducible for a given
    ``batch_clients``. Each batch writes ``truth/batch=b.parquet`` (the simulator's truth
    table, labelled synthetic) and, with ``ndjson=True``, its FHIR NDJSON under ``fhir/``.
    Batches run on ``client`` (Dask) if given, else in ``workers`` local processes (the simulator holds the GIL).
    """
    cfg = replace(config or CohortConfig(), days=days)
    kwargs = {k: v for k, v in asdict(cfg).items() if k != "extra"}
    sizes = [min(batch_clients, n_clients - b * batch_clients) for b in range(-(-n_clients // batch_clients))]
    tasks = [(kwargs, b, size, seed, str(out_dir), ndjson) for b, size in enumerate(sizes)]
    run = dask_runner(client) if client is not None else local_runner(workers)
    results = run(_national_batch, tasks)
    return NationalRun(Path(out_dir), len(sizes), n_clients, sum(r[0] for r in results), [Path(r[1]) for r in results])


def slurm_cluster(*, cores: int = 8, memory: str = "32GB", walltime: str = "02:00:00", queue: str | None = None,
                  account: str | None = None, local_directory: str | None = None, **kwargs: Any):
    """A dask-jobqueue ``SLURMCluster`` (one job = ``cores`` worker threads); call ``.scale(jobs=n)``.

    Needs ``sbatch`` only when it scales. Each worker job runs the project's own Python
    environment; ``out_dir`` of the ingest must be on a file system all nodes share.
    """
    from dask_jobqueue import SLURMCluster  # ~1-2 s to import, and only SLURM needs it

    return SLURMCluster(cores=cores, processes=max(1, cores // 4), memory=memory, walltime=walltime, queue=queue,
                        account=account, local_directory=local_directory, **kwargs)
