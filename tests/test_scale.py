"""Scale-out: the Dask path gives the single-machine results, on a LocalCluster; national simulation in batches."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kuntalib.fhir import analysis
from kuntalib.fhir.ingest import ingest_ndjson, load_devices
from kuntalib.fhir.resources import write_ndjson
from kuntalib.fhir.scale import analyse, dask_runner, read_observations_dask, simulate_national, slurm_cluster
from kuntalib.fhir.simulate import CohortConfig, simulate_cohort
from tests.conftest import REPO

pytestmark = pytest.mark.slow

CFG = CohortConfig(n_clients=40, days=21, cgm_minutes=60, p_duplicate=0.03, p_implausible=0.01)


@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_ndjson(simulate_cohort(CFG, 3), tmp_path_factory.mktemp("nd"))


@pytest.fixture(scope="module")
def thresholds():
    return analysis.load_thresholds(REPO / "data" / "raw" / "kotidigi" / "alert_thresholds.csv")


def test_dask_ingest_equals_local_ingest(cluster_client, files, tmp_path):
    devices = load_devices([files["Device"]])
    local = ingest_ndjson(files["Observation"], tmp_path / "local", devices=devices, range_bytes=200_000, rows_per_bucket=2000)
    dist = ingest_ndjson(files["Observation"], tmp_path / "dask", devices=devices, range_bytes=200_000, rows_per_bucket=2000,
                         runner=dask_runner(cluster_client))
    assert local.buckets > 1 and (local.lines, local.accepted, local.rejected, local.rows) == (
        dist.lines, dist.accepted, dist.rejected, dist.rows)
    pd.testing.assert_frame_equal(local.rejects, dist.rejects)
    for a, b in zip(sorted((tmp_path / "local" / "observations").rglob("*.parquet")),
                    sorted((tmp_path / "dask" / "observations").rglob("*.parquet")), strict=True):
        pd.testing.assert_frame_equal(pq.read_table(a).to_pandas(), pq.read_table(b).to_pandas())  # NaN == NaN here
    ddf = read_observations_dask(tmp_path / "dask")
    assert ddf.npartitions == dist.buckets and len(ddf) == dist.rows



def test_dask_ingest_of_many_small_files_equals_local_ingest(cluster_client, files, tmp_path):
    """A Bulk Data export's many small files go to the workers several to a work unit; the answer is the local one."""
    lines = files["Observation"].read_bytes().splitlines(keepends=True)[:600]
    parts = []
    for k in range(0, len(lines), 40):
        parts.append(tmp_path / "export" / f"{k // 40}" / "Observation.ndjson")
        parts[-1].parent.mkdir(parents=True)
        parts[-1].write_bytes(b"".join(lines[k:k + 40]))
    devices = load_devices([files["Device"]])
    local = ingest_ndjson(parts, tmp_path / "local", devices=devices, range_bytes=1)  # every line a unit of its own
    dist = ingest_ndjson(parts, tmp_path / "dask", devices=devices, runner=dask_runner(cluster_client), workers=2)
    assert (local.lines, local.accepted, local.rejected, local.rows) == (dist.lines, dist.accepted, dist.rejected, dist.rows)
    pd.testing.assert_frame_equal(local.rejects, dist.rejects)
    key = ["source", "line", "code"]
    pd.testing.assert_frame_equal(local.read().sort_values(key).reset_index(drop=True),
                                  dist.read().sort_values(key).reset_index(drop=True))


def test_dask_analyses_equal_pandas(cluster_client, files, thresholds, tmp_path):
    res = ingest_ndjson(files["Observation"], tmp_path / "t", devices=load_devices([files["Device"]]), rows_per_bucket=1500)
    obs = res.read()
    out = analyse(tmp_path / "t", res.rejects, thresholds, start=CFG.start, days=CFG.days, codes=("8480-6",),
                  client=cluster_client)
    pd.testing.assert_frame_equal(out.quality, analysis.quality_table(obs, res.rejects))
    adh = analysis.adherence(obs, start=CFG.start, days=CFG.days, codes=("8480-6",))
    pd.testing.assert_frame_equal(out.adherence, adh.sort_values(["patient", "week"]).reset_index(drop=True))
    pd.testing.assert_frame_equal(analysis.adherence_summary(out.adherence), analysis.adherence_summary(adh))
    pd.testing.assert_frame_equal(out.alerts, analysis.alerts(obs, thresholds))
    single = analysis.fit_bp_trend(obs, start=CFG.start)
    pd.testing.assert_frame_equal(out.trend().fixed, single.fixed)


def test_national_simulation_runs_in_batches(tmp_path, cluster_client):
    run = simulate_national(250, 7, tmp_path / "nat", batch_clients=100, seed=9, client=cluster_client)
    assert run.batches == 3 and len(run.parts) == 3
    truth = pd.concat([pd.read_parquet(p) for p in run.parts])
    assert len(truth) == run.measurements and truth["synthetic"].all()
    assert truth["client"].nunique() == 250 and truth.groupby("batch")["client"].nunique().tolist() == [100, 100, 50]
    again = simulate_national(250, 7, tmp_path / "nat2", batch_clients=100, seed=9, workers=1)
    pd.testing.assert_frame_equal(pd.read_parquet(run.parts[1]), pd.read_parquet(again.parts[1]))
    first = pd.read_parquet(run.parts[0])
    assert not np.isin(first["client"].unique(), pd.read_parquet(run.parts[1])["client"].unique()).any()


def test_slurm_cluster_job_script():
    pytest.importorskip("dask_jobqueue")
    cluster = slurm_cluster(cores=8, memory="16GB", walltime="01:00:00", queue="small", account="project_2001234",
                            scheduler_options={"dashboard_address": ":0"})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p small" in script and "#SBATCH -A project_2001234" in script and "#SBATCH -t 01:00:00" in script
