"""Run notebooks with papermill, in parallel, incrementally and reproducibly."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuntalib import paths
from kuntalib.i18n import LANGS, check_lang
from kuntalib.pipeline.params import ParameterError, read_parameters, validate_overrides, validate_paths
from kuntalib.pipeline.state import BuildState, RunRecord, environment_digest, package_hash, static_fingerprint
from kuntalib.pipeline.steps import STEP_LOG_ENV, step_line
from kuntalib.pipeline.translate import ProseError, catalogue_digest, translate
from kuntalib.provenance import INPUT_LOG_ENV

__all__ = ["Job", "JobResult", "BuildReport", "discover", "recorded_jobs", "plan", "run_build", "normalise_notebook"]


@dataclass(frozen=True)
class Job:
    """One notebook in one language with its parameters."""

    notebook: Path
    lang: str
    params: dict[str, Any]

    @property
    def stem(self) -> str:
        return self.notebook.stem

    @property
    def run_id(self) -> str:
        return f"{self.stem}/{self.lang}"

    @property
    def output(self) -> Path:
        return paths.executed_dir(self.lang) / f"{self.stem}.ipynb"

    def targets(self) -> list[str]:
        """What the run publishes, relative to outputs/: its figures, its tables, its executed notebook."""
        return [f"figures/{self.stem}/{self.lang}", f"tables/{self.stem}/{self.lang}", f"notebooks/{self.lang}/{self.stem}.ipynb"]

    @property
    def staging(self) -> Path:
        """Where the run writes (an outputs/ of its own) before its outputs are moved into place."""
        return paths.staging_dir() / f"{self.stem}.{self.lang}"


@dataclass
class JobResult:
    """Outcome of one job: ok, skipped (up to date) or failed with a message."""

    job: Job
    status: str
    message: str = ""
    seconds: float = 0.0
    steps: tuple[str, ...] = ()


@dataclass
class BuildReport:
    """All job results of a build."""

    results: list[JobResult] = field(default_factory=list)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ran(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def skipped(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def steps(self) -> list[str]:
        """Every language-neutral step of the runs, as ``computed|read <notebook>/<step> <key>``."""
        return [s for r in self.results for s in r.steps]

    def step_table(self) -> list[str]:
        """One line per step of the runs: ``<notebook>/<step>: computed 1, read 2`` (in the order they first ran)."""
        counts: dict[str, list[int]] = {}
        for line in self.steps:
            how, name, _key = step_line(line)
            counts.setdefault(name, [0, 0])[how != "computed"] += 1
        return [f"  {name}: computed {c}, read {r}" for name, (c, r) in counts.items()]

    def summary(self) -> str:
        computed = sum(s.startswith("computed ") for s in self.steps)
        lines = [f"{len(self.ran)} run, {len(self.skipped)} up to date, {len(self.failed)} failed; "
                 f"steps: {computed} computed, {len(self.steps) - computed} read from data/processed"]
        lines += self.step_table()
        lines += [f"FAILED {r.job.run_id}: {r.message}" for r in self.failed]
        return "\n".join(lines)


def recorded_jobs() -> list[Job]:
    """The jobs of the last build, as ``outputs/.build-state.json`` records them."""
    jobs = []
    for run_id, rec in sorted(BuildState().records.items()):
        stem, _, lang = run_id.partition("/")
        jobs.append(Job(paths.notebooks_dir() / f"{stem}.ipynb", lang, rec.params))
    return jobs


def discover(names: list[str] | None = None) -> list[Path]:
    """Notebooks in ``notebooks/`` (sorted), or those whose stem is in ``names``."""
    found = sorted(paths.notebooks_dir().glob("*.ipynb"))
    if names:
        by_stem = {p.stem: p for p in found}
        unknown = [n for n in names if n not in by_stem]
        if unknown:
            raise ParameterError(f"no such notebook(s) in {paths.notebooks_dir()}: {', '.join(unknown)}")
        found = [by_stem[n] for n in names]
    return found


def plan(
    notebooks: list[Path],
    langs: tuple[str, ...] = LANGS,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[Job]:
    """Validate every override against its notebook's parameters cell; return the jobs.

    Nothing runs if any notebook's parameters are wrong: the first problem
    raises ``ParameterError``.
    """
    overrides = overrides or {}
    for lang in langs:
        check_lang(lang)
    stems = {nb.stem for nb in notebooks}
    for key in overrides:
        if key not in stems:
            raise ParameterError(f"parameters given for unknown notebook {key!r}")
    jobs: list[Job] = []
    for nb in notebooks:
        declared = read_parameters(nb)
        extra = dict(overrides.get(nb.stem, {}))
        validate_overrides(nb, declared, extra)
        validate_paths(nb, declared, extra)
        if "lang" not in declared:
            raise ParameterError(f"{nb.name}: the parameters cell must declare 'lang: str'")
        if "lang" in extra:
            raise ParameterError(f"{nb.name}: choose languages with --lang, not a 'lang' parameter")
        for lang in langs:
            jobs.append(Job(nb, lang, {**extra, "lang": lang}))
    return jobs


def normalise_notebook(path: Path) -> None:
    """Strip what changes from run to run: timestamps, durations, paths, random cell ids."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    nb.metadata["papermill"] = {"parameters": pm.get("parameters", {})}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def _log_file(env_name: str) -> str:
    fd, log = tempfile.mkstemp(prefix="kuntalib-log-", suffix=".txt")
    os.close(fd)
    os.environ[env_name] = log
    return log


def _read_log(log: str) -> list[str]:
    with open(log, encoding="utf-8") as fh:
        lines = [line.strip() for line in fh if line.strip()]
    os.unlink(log)
    return lines


#: Starts of a notebook's kernel before the run fails: a kernel that dies before it first answers (say, a
#: TCP port taken by another program between jupyter_client choosing it and the kernel binding it) has
#: run nothing, so it is started again.
KERNEL_STARTS = 3


def _kernel_did_not_start(exc: Exception) -> bool:
    """Whether papermill failed because the kernel never answered (nothing of the notebook ran)."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("before replying to kernel_info" in text or "didn't respond in" in text)


def _execute(job: Job, env: dict[str, str]) -> tuple[str, str, list[str], list[str]]:
    """Worker: run one job into its staging folder; return (status, message, inputs read, steps).

    Steps are ``computed|read <notebook>/<step> <key>`` lines. Nothing outside the staging folder
    is touched: the outputs of the last good run stay in place whatever happens here.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    os.environ.update(env)
    values = {name: p.default for name, p in read_parameters(job.notebook).items()} | job.params
    try:
        source = translate(job.notebook, job.lang, values)  # the prose cells in the run's language (papermill copies it)
    except ProseError as exc:
        return "failed", str(exc), [], []
    staging = job.staging  # under the build's outputs/, before the kernel's outputs/ is pointed at it
    os.environ["KUNTALIB_OUTPUTS"] = str(staging)  # the notebook's save_figure/save_table write here
    log, step_log = _log_file(INPUT_LOG_ENV), _log_file(STEP_LOG_ENV)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    executed = staging / "notebooks" / job.lang / f"{job.stem}.ipynb"
    status, message = "ok", ""
    for start in range(1, KERNEL_STARTS + 1):
        shutil.rmtree(staging, ignore_errors=True)
        executed.parent.mkdir(parents=True, exist_ok=True)
        try:
            pm.execute_notebook(
                source,
                str(executed),
                parameters=job.params,
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                cwd=str(job.notebook.parent),
                # Quiet kernels: the TCP-transport warning at start and the "KeyboardInterrupt caught in
                # kernel" that jupyter_client's shutdown interrupt provokes are kernel log lines, not
                # notebook errors (those come back as cell errors and fail the run).
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            status = "failed"
            first = next((ln for ln in str(exc.source).splitlines() if ln.strip()), "")
            message = (
                f"cell {exc.cell_index} of the executed notebook (execution count {exc.exec_count}, "
                f"starting {first[:60]!r}) raised {exc.ename}: {exc.evalue}"
            )
        except Exception as exc:  # kernel died, notebook unreadable, ...
            if _kernel_did_not_start(exc) and start < KERNEL_STARTS:
                continue  # nothing ran: start a new kernel (new ports)
            status = "failed"
            message = f"{type(exc).__name__}: {exc}" + (f" (kernel started {start} times)" if start > 1 else "")
        break
    if executed.exists():
        normalise_notebook(executed)
    return status, message, sorted(set(_read_log(log))), _read_log(step_log)


def _promote(job: Job) -> list[Path]:
    """Move a successful run's staged outputs into place, replacing the last run's; return the files."""
    out = paths.outputs_dir()
    old = job.staging.with_name(job.staging.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    for rel in job.targets():
        src, dst = job.staging / rel, out / rel
        if dst.exists():
            (old / rel).parent.mkdir(parents=True, exist_ok=True)
            dst.rename(old / rel)
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.rename(dst)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(job.staging, ignore_errors=True)
    (paths.failed_dir(job.lang) / f"{job.stem}.ipynb").unlink(missing_ok=True)
    files = [job.output] if job.output.exists() else []
    for rel in job.targets()[:2]:
        if (out / rel).exists():
            files += sorted(p for p in (out / rel).rglob("*") if p.is_file())
    return files


def _keep_failed(job: Job, message: str) -> str:
    """Keep a failed run's executed notebook in outputs/failed/<lang>/; drop its staged outputs."""
    executed = job.staging / "notebooks" / job.lang / f"{job.stem}.ipynb"
    if executed.exists():
        kept = paths.failed_dir(job.lang) / executed.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        os.replace(executed, kept)
        message += f"; failed notebook kept at {kept}; the last good outputs stay in place"
    shutil.rmtree(job.staging, ignore_errors=True)
    return message


#: Longest wait (seconds) for a run to finish before the build looks for Ctrl-C again. Waiting on a
#: lock cannot be interrupted on Windows before Python 3.14, so the build never waits for long at once.
POLL_SECONDS = 0.5


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel queued work and end running workers at once (Ctrl-C).

    ``Process.terminate`` is SIGTERM on Linux and macOS and ``TerminateProcess`` on Windows. A
    worker's kernel does not outlive it on either: jupyter_client gives the kernel its parent
    (``JPY_PARENT_PID``: a process id on POSIX, a process handle on Windows) and the kernel
    exits when that parent is gone.
    """
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in list((getattr(pool, "_processes", None) or {}).values()):  # no public API for this
        if proc.is_alive():
            proc.terminate()


def _finished(pending: set[Future]) -> Iterator[Future]:
    """Yield each future of ``pending`` as it finishes, waiting at most ``POLL_SECONDS`` at a time.

    Like ``concurrent.futures.as_completed``, but Ctrl-C is noticed within ``POLL_SECONDS`` on
    every platform (``as_completed`` would hold it back on Windows until a run finishes).
    """
    while pending:
        done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        yield from done


def run_build(
    jobs: list[Job],
    *,
    force: bool = False,
    workers: int = 2,
    progress: bool = True,
) -> BuildReport:
    """Run the jobs that are out of date, ``workers`` at a time.

    Each run writes into its own staging folder; only a successful run's outputs are
    moved into place, and it is recorded in the state file as soon as it finishes, so an
    interrupted build keeps every finished run. A failing notebook does not stop the
    others and keeps its last good outputs; its record is dropped so that the next build
    tries it again. Ctrl-C cancels queued runs and ends running ones at once.
    """
    import time

    state = BuildState()
    pkg = package_hash() + environment_digest()
    report = BuildReport()
    todo: list[tuple[Job, str]] = []
    for job in jobs:
        static = static_fingerprint(job.notebook, job.params, pkg + catalogue_digest(job.notebook, job.lang))
        rec = state.get(job.run_id)
        if not force and rec is not None and rec.is_current(static):
            report.results.append(JobResult(job, "skipped"))
        else:
            todo.append((job, static))
    if not todo:
        return report
    # Each notebook's first language first: it runs the notebook's language-neutral steps
    # (kuntalib.pipeline.steps) while the other notebooks' steps run beside it; the later
    # languages then find the steps done and only render.
    order = {lang: i for i, lang in enumerate(dict.fromkeys(job.lang for job, _ in todo))}
    todo.sort(key=lambda item: (order[item[0].lang], item[0].stem))

    from tqdm import tqdm

    env = {k: v for k, v in os.environ.items() if k.startswith("KUNTALIB_")}
    env["KUNTALIB_ROOT"] = str(paths.proj_root())
    env["KUNTALIB_OUTPUTS"] = str(paths.outputs_dir())  # reset in every job: a worker process serves many jobs
    env["KUNTALIB_PROCESSED"] = str(paths.data_processed())
    bar = tqdm(total=len(todo), desc="notebooks", unit="nb", disable=not progress, file=sys.stderr)
    started = {job.run_id: time.perf_counter() for job, _ in todo}
    pool = ProcessPoolExecutor(max_workers=max(1, workers))
    try:
        futures = {pool.submit(_execute, job, env): (job, static) for job, static in todo}
        for fut in _finished(set(futures)):
            job, static = futures[fut]
            try:
                status, message, inputs, step_lines = fut.result()
            except Exception as exc:  # worker crashed
                status, message, inputs, step_lines = "failed", f"{type(exc).__name__}: {exc}", [], []
            secs = time.perf_counter() - started[job.run_id]
            state.set(job.run_id, None)
            state.save()  # a run being replaced is not current until its new outputs are recorded
            if status == "ok":
                written = _promote(job)
                state.set(job.run_id, RunRecord.from_run(static, job.params, [Path(p) for p in inputs], written, step_lines))
                state.save()
            else:
                message = _keep_failed(job, message)
            report.results.append(JobResult(job, status, message, secs, tuple(step_lines)))
            bar.set_postfix_str(f"{job.run_id} {status}")
            bar.update(1)
    except KeyboardInterrupt:
        _stop_workers(pool)
        bar.close()
        raise
    pool.shutdown()
    bar.close()
    return report
