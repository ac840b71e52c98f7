"""The researcher's door: ``kuntalib lab`` (``make lab``) opens the notebooks in JupyterLab.

It registers the project's Jupyter kernel, named ``kuntalib``, inside the environment that
runs it (``ipykernel install --sys-prefix``: the venv's own ``share/jupyter/kernels``, nothing
outside the project), quiets one log line of that environment's kernels, and starts JupyterLab
in the project root with ``notebooks/`` open, on the loopback address.

The quiet line is ipykernel's "Kernel is running over TCP without encryption" warning, which
every kernel started over TCP logs at start (ipykernel 7, ``IPKernelApp.init_sockets``).
Kernels listen on 127.0.0.1 only. The IPC transport would avoid the warning, but papermill's
command line cannot choose a transport and IPC does not exist on Windows, so the warning is
filtered instead: :func:`write_kernel_config` writes ``<venv>/etc/ipython/ipython_kernel_config.py``,
which every IPython kernel of the venv reads at start (JupyterLab's, a direct ``papermill`` run's,
the build's), and which adds :class:`TcpWarningFilter` to the kernel's log. Every other kernel log
line is kept. ``kuntalib build`` quiets its kernels' logs as a whole besides
(``--IPKernelApp.log_level=CRITICAL``, in :mod:`kuntalib.pipeline.runner`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from subprocess import Popen  # JupyterLab's process: a name of its own, so a test can stand in for it

from kuntalib import paths

__all__ = [
    "KERNEL_NAME",
    "TCP_WARNING",
    "KERNEL_LOGGER",
    "CONFIG_MARK",
    "TcpWarningFilter",
    "quiet_tcp_warning",
    "kernel_display_name",
    "kernelspec_dir",
    "kernel_config_file",
    "write_kernel_config",
    "register_kernel",
    "lab_command",
    "lab",
]

#: The name the project's kernel is registered under (``kernel_name="kuntalib"`` in papermill).
KERNEL_NAME = "kuntalib"

#: The start of ipykernel's warning that :class:`TcpWarningFilter` drops.
TCP_WARNING = "Kernel is running over TCP without encryption"

#: The logger of ipykernel's kernel application (the ``[IPKernelApp]`` of its log lines).
KERNEL_LOGGER = "IPKernelApp"

#: First line of the kernel config file this module writes; a file without it is someone else's and is left alone.
CONFIG_MARK = "# Written by kuntalib (kuntalib.lab.write_kernel_config)."

#: The kernel config file: it imports kuntalib only to add the filter, and does nothing if it cannot.
KERNEL_CONFIG = f'''{CONFIG_MARK}
# Every IPython kernel of this environment reads this file at start (IPython reads
# <sys.prefix>/etc/ipython/ipython_kernel_config.py). It drops one log line, ipykernel's
# "{TCP_WARNING}" warning (the kernels listen on 127.0.0.1 only);
# every other log line is kept. `kuntalib lab`, `kuntalib kernel` and `make venv` write it again.
try:
    from kuntalib.lab import quiet_tcp_warning
except Exception:  # kuntalib is no longer installed here: the warning shows, nothing else changes
    pass
else:
    quiet_tcp_warning()
'''


class TcpWarningFilter(logging.Filter):
    """Drop ipykernel's "Kernel is running over TCP without encryption" warning; let every other record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is logged: False only for the TCP-transport warning.

        Parameters
        ----------
        record : logging.LogRecord
            A record of the kernel application's logger.

        Returns
        -------
        bool
            False for the warning, True otherwise.
        """
        return not (record.levelno == logging.WARNING and str(record.msg).startswith(TCP_WARNING))


def quiet_tcp_warning() -> None:
    """Add :class:`TcpWarningFilter` to the kernel application's logger (once; called from the kernel config file).

    A logger's filters survive the ``logging.config.dictConfig`` calls with which traitlets
    sets up the application's log, so the filter holds for the kernel's whole life.
    """
    logger = logging.getLogger(KERNEL_LOGGER)
    if not any(isinstance(f, TcpWarningFilter) for f in logger.filters):
        logger.addFilter(TcpWarningFilter())


def kernel_display_name() -> str:
    """The kernel's name in JupyterLab's launcher: ``kuntalib (Python 3.11)`` (the running Python's version).

    Returns
    -------
    str
        The display name.
    """
    return f"{KERNEL_NAME} (Python {sys.version_info.major}.{sys.version_info.minor})"


def kernelspec_dir(prefix: Path | None = None) -> Path:
    """Where the kernel spec is registered: ``<prefix>/share/jupyter/kernels/kuntalib``.

    Parameters
    ----------
    prefix : Path, optional
        The environment's prefix; ``sys.prefix`` (the venv) by default.

    Returns
    -------
    Path
        The kernel spec's folder (it holds ``kernel.json``).
    """
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME


def kernel_config_file(prefix: Path | None = None) -> Path:
    """The IPython kernel config file of an environment: ``<prefix>/etc/ipython/ipython_kernel_config.py``.

    Parameters
    ----------
    prefix : Path, optional
        The environment's prefix; ``sys.prefix`` (the venv) by default.

    Returns
    -------
    Path
        The file's path (it need not exist).
    """
    return Path(prefix or sys.prefix) / "etc" / "ipython" / "ipython_kernel_config.py"


def write_kernel_config(prefix: Path | None = None) -> Path | None:
    """Write the kernel config file that quiets the TCP-transport warning (see the module's note).

    The file is replaced whole and atomically, so a kernel starting meanwhile reads the old
    file or the new one. A file of that name that kuntalib did not write is left as it is.

    Parameters
    ----------
    prefix : Path, optional
        The environment's prefix; ``sys.prefix`` (the venv) by default.

    Returns
    -------
    Path or None
        The file written, or None when another file of that name was left alone.
    """
    target = kernel_config_file(prefix)
    if target.exists():
        with open(target, encoding="utf-8") as fh:
            if fh.readline().rstrip("\n") != CONFIG_MARK:
                return None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".kuntalib-", suffix=".py")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(KERNEL_CONFIG)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def register_kernel(prefix: Path | None = None) -> tuple[Path, Path | None]:
    """Register the ``kuntalib`` kernel spec for this Python (the venv's ipykernel) and write the quiet kernel config.

    Runs ``python -m ipykernel install --sys-prefix --name kuntalib --display-name "kuntalib (Python 3.11)"``
    (``--prefix PREFIX`` when ``prefix`` is given): the spec names this interpreter, so a notebook run on the
    ``kuntalib`` kernel sees the project's locked packages wherever JupyterLab or papermill come from.
    Registering again replaces the spec; nothing is written outside ``prefix``.

    Parameters
    ----------
    prefix : Path, optional
        The environment's prefix; ``sys.prefix`` (the venv) by default.

    Returns
    -------
    tuple of (Path, Path or None)
        The kernel spec's folder, and the kernel config file written (None when another file of its
        name was left alone, see :func:`write_kernel_config`).

    Raises
    ------
    RuntimeError
        When ipykernel fails, with its message.
    """
    where = ["--sys-prefix"] if prefix is None else ["--prefix", str(prefix)]
    cmd = [sys.executable, "-m", "ipykernel", "install", *where, "--name", KERNEL_NAME,
           "--display-name", kernel_display_name()]
    done = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", check=False)
    spec = kernelspec_dir(prefix)
    if done.returncode != 0 or not (spec / "kernel.json").exists():
        raise RuntimeError(f"registering the {KERNEL_NAME!r} kernel failed: {(done.stderr or done.stdout).strip()}")
    return spec, write_kernel_config(prefix)


def lab_command(*, port: int | None = None, open_browser: bool = True, extra: list[str] | None = None) -> list[str]:
    """The command that starts JupyterLab in the project root with ``notebooks/`` open, on 127.0.0.1.

    Parameters
    ----------
    port : int, optional
        The port; JupyterLab's own choice (8888, or the next free one) by default.
    open_browser : bool
        Whether JupyterLab opens a browser tab.
    extra : list of str, optional
        Further JupyterLab options, last (so they win), e.g. ``["--allow-root"]``.

    Returns
    -------
    list of str
        The command, for ``subprocess`` (run it with the project root as working folder).
    """
    cmd = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={paths.proj_root()}",
        "--LabApp.default_url=/lab/tree/notebooks",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.open_browser={open_browser}",
    ]
    if port is not None:
        cmd.append(f"--ServerApp.port={port}")
    return cmd + list(extra or [])


def lab(*, port: int | None = None, open_browser: bool = True, extra: list[str] | None = None,
        register: bool = True) -> int:
    """``kuntalib lab``: register the kernel, then run JupyterLab until it stops; return its exit code.

    JupyterLab starts each notebook's kernel in the notebook's folder, ``notebooks/``, as the
    build does; the notebooks find their data through :mod:`kuntalib.paths`, so the working
    folder does not matter to them. Ctrl-C reaches JupyterLab, which asks whether to stop.

    Parameters
    ----------
    port : int, optional
        JupyterLab's port; its own choice by default.
    open_browser : bool
        Whether JupyterLab opens a browser tab.
    extra : list of str, optional
        Further JupyterLab options (see :func:`lab_command`).
    register : bool
        Whether to register the kernel first (:func:`register_kernel`); False when the caller has.

    Returns
    -------
    int
        JupyterLab's exit code.
    """
    if register:
        register_kernel()
    proc = Popen(lab_command(port=port, open_browser=open_browser, extra=extra), cwd=paths.proj_root())
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # JupyterLab has the Ctrl-C too: it asks, or stops, on its own
            continue
