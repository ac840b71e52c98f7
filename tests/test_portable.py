"""kuntalib runs on the laptops researchers have: Windows and macOS as well as Linux.

A subprocess plays a machine without POSIX-only modules, signals and process calls, as kuntalib's own
code sees it (``PRELUDE``, loaded as ``sitecustomize`` by every Python process the test starts: the
build, its workers and the notebook's kernel): kuntalib may not import ``fcntl``, ``resource`` and the
other POSIX-only modules, nor use SIGKILL, process groups, ``os.fork`` and the like, and build workers
start with "spawn", the only method on Windows. Third-party packages keep their own POSIX paths (ipykernel
imports ``signal.SIGKILL`` and psutil imports ``resource`` on Linux, and choose by platform, not by what
is importable), so the prelude hides these only from modules named ``kuntalib.*``. A static check covers
what an import cannot show: calls made only in functions, and text files opened without an encoding
(Windows would read and write them in its ANSI code page).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Modules that do not exist on Windows.
POSIX_MODULES = frozenset({"fcntl", "resource", "termios", "pwd", "grp", "pty", "tty"})
#: Signals Windows has (every other ``signal.SIG*`` is POSIX-only).
WINDOWS_SIGNALS = frozenset({"SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM", "SIGBREAK", "SIG_DFL",
                             "SIG_IGN"})
#: ``signal`` and ``os`` functions and constants that Windows lacks.
POSIX_CALLS = {
    "signal": frozenset({"alarm", "pause", "setitimer", "getitimer", "siginterrupt", "pthread_kill", "pthread_sigmask",
                         "sigpending", "sigwait", "sigwaitinfo", "sigtimedwait", "pidfd_send_signal", "ITIMER_REAL",
                         "ITIMER_VIRTUAL", "ITIMER_PROF"}),
    "os": frozenset({"fork", "forkpty", "killpg", "setsid", "getsid", "setpgid", "getpgid", "setpgrp", "getpgrp",
                     "getuid", "geteuid", "getgid", "getegid", "setuid", "setgid", "getgroups", "chown", "lchown",
                     "fchown", "nice", "getloadavg", "wait3", "wait4", "sched_getaffinity", "sched_setaffinity",
                     "statvfs", "mkfifo", "mknod", "sysconf", "pathconf", "openpty", "register_at_fork", "posix_spawn",
                     "posix_spawnp"}),
}

PRELUDE = '''\
"""Written by tests/test_portable.py: kuntalib's modules see a machine without POSIX-only modules and calls."""
import builtins
import json
import multiprocessing
import os
import signal
import sys
import types

with open(os.path.join(os.path.dirname(__file__), "posix.json"), encoding="utf-8") as fh:
    SPEC = json.load(fh)
DENIED = set(SPEC["modules"])
HIDDEN = {"signal": {n for n in dir(signal) if n.startswith("SIG") and n not in SPEC["signals"]} | set(SPEC["signal"]),
          "os": set(SPEC["os"])}


class Without(types.ModuleType):
    """A module as on Windows: its POSIX-only names raise AttributeError."""

    def __init__(self, real, hidden):
        super().__init__(real.__name__, real.__doc__)
        self.__dict__["_real"], self.__dict__["_hidden"] = real, hidden

    def __getattr__(self, name):
        if name in self._hidden:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} (not on Windows)")
        return getattr(self._real, name)


PROXIES = {name: Without(sys.modules.get(name) or __import__(name), hidden) for name, hidden in HIDDEN.items()}
_import = builtins.__import__


def portable_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__") or ""
    if level == 0 and (importer == "kuntalib" or importer.startswith("kuntalib.")):
        top = name.partition(".")[0]
        if top in DENIED:
            raise ModuleNotFoundError(f"No module named {top!r} (not on Windows)", name=top)
        if top in PROXIES:
            _import(name, globals, locals, fromlist, level)
            return PROXIES[top]
    return _import(name, globals, locals, fromlist, level)


builtins.__import__ = portable_import
multiprocessing.set_start_method("spawn", force=True)  # the only start method on Windows
if os.environ.get("PORTABLE_MARKERS"):  # which processes ran under the prelude
    with open(os.path.join(os.environ["PORTABLE_MARKERS"], f"{os.getpid()}.txt"), "w", encoding="utf-8") as fh:
        fh.write(" ".join(sys.orig_argv))
'''


def _portable_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess under the prelude (inherited by its workers and kernels)."""
    prelude = tmp_path / "prelude"
    prelude.mkdir(exist_ok=True)
    (prelude / "sitecustomize.py").write_text(PRELUDE, encoding="utf-8")
    spec = {"modules": sorted(POSIX_MODULES), "signals": sorted(WINDOWS_SIGNALS), "signal": sorted(POSIX_CALLS["signal"]),
            "os": sorted(POSIX_CALLS["os"])}
    (prelude / "posix.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNTALIB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(prelude), str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["KUNTALIB_ROOT"] = str(REPO)
    env.update(extra)
    return env


def _run(code: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=str(REPO), capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout)


PROBE = """
import json
seen = {}
for code in ("import fcntl", "import resource", "import signal; signal.SIGKILL", "from signal import SIGKILL",
             "import os; os.killpg", "import os; os.setsid", "import os; os.fork",
             "import signal, os; signal.SIGTERM, signal.SIGINT, os.kill, os.path.join"):
    try:
        exec(code, {"__name__": "kuntalib._probe"})
        seen[code] = "ran"
    except (ImportError, AttributeError) as exc:
        seen[code] = type(exc).__name__
import fcntl, signal  # the packages kuntalib uses keep their own POSIX paths
seen["others"] = bool(signal.SIGKILL) and fcntl.__name__
print(json.dumps(seen))
"""


def test_the_prelude_hides_posix_from_kuntalib_only(tmp_path):
    """The simulation itself: kuntalib's modules see no fcntl, resource, SIGKILL, killpg, setsid or fork."""
    done = _run(PROBE, _portable_env(tmp_path))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"import fcntl": "ModuleNotFoundError", "import resource": "ModuleNotFoundError",
                    "import signal; signal.SIGKILL": "AttributeError", "from signal import SIGKILL": "ImportError",
                    "import os; os.killpg": "AttributeError", "import os; os.setsid": "AttributeError",
                    "import os; os.fork": "AttributeError",
                    "import signal, os; signal.SIGTERM, signal.SIGINT, os.kill, os.path.join": "ran",
                    "others": "fcntl"}


IMPORT_ALL = """
import importlib, json, pkgutil, traceback
import kuntalib
failed = {}
names = ["kuntalib"] + [m.name for m in pkgutil.walk_packages(kuntalib.__path__, "kuntalib.")]
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = traceback.format_exception_only(type(exc), exc)[-1].strip()
print(json.dumps({"modules": names, "failed": failed}))
"""


def test_every_module_imports_without_posix(tmp_path):
    done = _run(IMPORT_ALL, _portable_env(tmp_path))
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert len(found["modules"]) > 20 and "kuntalib.pipeline.lock" in found["modules"]
    assert found["failed"] == {}, "modules that need POSIX (a Windows or macOS laptop cannot import them):\n" + "\n".join(
        f"  {name}: {err}" for name, err in found["failed"].items())


BUILD = """
import sys
from kuntalib.cli import main
sys.exit(main(["build", "04_strategy_followup", "--lang", "en", "--no-progress", "-j", "1"]))
"""


@pytest.mark.slow
def test_a_notebook_builds_end_to_end_without_posix(tmp_path):
    """``kuntalib build`` of notebook 04 in English: lock, spawned worker, kernel, site, all under the prelude."""
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "outputs"
    env = _portable_env(tmp_path, KUNTALIB_OUTPUTS=str(out), KUNTALIB_PROCESSED=str(tmp_path / "processed"),
                        PORTABLE_MARKERS=str(markers))
    done = _run(BUILD, env, timeout=600)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert done.stdout.startswith("1 run, 0 up to date, 0 failed;"), done.stdout
    figures = out / "figures" / "04_strategy_followup" / "en"
    assert (figures / "dashboard.svg").exists() and (figures / "dashboard.png").exists()
    assert (out / "tables" / "04_strategy_followup" / "en" / "status.csv").exists()
    assert (out / "site" / "en" / "04_strategy_followup.html").exists()
    assert (out / "notebooks" / "en" / "04_strategy_followup.ipynb").exists()
    started = [p.read_text(encoding="utf-8") for p in markers.glob("*.txt")]
    assert any("ipykernel" in argv for argv in started), "the notebook's kernel did not run under the prelude"
    assert any("spawn_main" in argv for argv in started), "the build's worker was not spawned under the prelude"


HOLD = """
import sys, time
from pathlib import Path
from kuntalib.pipeline.lock import build_lock
with build_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(300)
"""

TAKE = """
import sys
from pathlib import Path
from kuntalib.pipeline.lock import build_lock
with build_lock(Path(sys.argv[1])):
    print("taken", flush=True)
"""


def test_a_second_build_waits_and_a_killed_build_leaves_no_stale_lock(tmp_path):
    """The build lock on this platform's own lock (flock here, msvcrt on Windows), not under the prelude."""
    lock = tmp_path / "outputs" / ".build.lock"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    popen = {"env": env, "cwd": str(REPO), "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True,
             "encoding": "utf-8"}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], **popen)
    waiter = None
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        waiter = subprocess.Popen([sys.executable, "-c", TAKE, str(lock)], **popen)
        assert "waiting for another build" in waiter.stderr.readline()
        time.sleep(1.0)
        assert waiter.poll() is None, "the second build did not wait for the first"
        holder.kill()  # SIGKILL here, TerminateProcess on Windows: no cleanup code runs
        holder.wait(timeout=30)
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0 and out.strip() == "taken", err
    finally:
        for proc in (holder, waiter):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


# --- what an import cannot show -------------------------------------------------------------------------

def _python_sources() -> list[tuple[str, str]]:
    """(where, source) of every kuntalib module and every notebook's code."""
    out = [(str(p.relative_to(REPO)), p.read_text(encoding="utf-8")) for p in sorted((REPO / "kuntalib").rglob("*.py"))]
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        out.append((str(nb.relative_to(REPO)), "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!")))))
    return out


def _mode(call: ast.Call, position: int) -> str | None:
    """The literal ``mode`` of an ``open``-like call (keyword, or positional argument ``position``), else None."""
    for kw in call.keywords:
        if kw.arg == "mode":
            return kw.value.value if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str) else None
    if len(call.args) > position:
        arg = call.args[position]
        literal = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else ""
        return literal if re.fullmatch(r"[rwxabt+U]+", literal) else None  # not a mode: some other open()
    return "r"


def posix_only_and_encodingless(where: str, source: str) -> list[str]:
    """Uses of POSIX-only modules, signals and calls, and text files opened without ``encoding=``, by line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, where)):
        lineno = getattr(node, "lineno", 0)
        line = f"{where}:{lineno}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.partition(".")[0] in POSIX_MODULES and not getattr(node, "level", 0):
                    found.append((lineno, f"{line}: imports {name} (not on Windows)"))
            if isinstance(node, ast.ImportFrom) and node.module in POSIX_CALLS and not node.level:
                for alias in node.names:
                    if _posix_only(node.module, alias.name):
                        found.append((lineno, f"{line}: imports {node.module}.{alias.name} (not on Windows)"))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in POSIX_CALLS:
            if _posix_only(node.value.id, node.attr):
                found.append((lineno, f"{line}: uses {node.value.id}.{node.attr} (not on Windows)"))
        elif isinstance(node, ast.Call):
            keywords = {kw.arg for kw in node.keywords}
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if "encoding" in keywords or None in keywords:  # an encoding, or **kwargs that may hold one
                continue
            if name == "open":
                # builtins.open / io.open / gzip.open(file, mode); Path.open(mode) when called on anything else
                module_call = isinstance(func, ast.Name) or (isinstance(func.value, ast.Name) and func.value.id in
                                                             {"io", "gzip", "bz2", "lzma", "codecs", "builtins"})
                mode = _mode(node, 1 if module_call else 0)
                default_binary = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
                    func.value.id in {"gzip", "bz2", "lzma"}
                if mode is not None and "b" not in mode and not (default_binary and "t" not in mode):
                    found.append((lineno, f"{line}: opens a text file without encoding= (Windows would use its ANSI code page)"))
            elif (name == "read_text" and not node.args) or (name == "write_text" and len(node.args) < 2):
                found.append((lineno, f"{line}: {name}() without encoding= (Windows would use its ANSI code page)"))
            elif name in {"run", "Popen", "check_output"} and keywords & {"text", "universal_newlines"}:
                found.append((lineno, f"{line}: subprocess text without encoding= (Windows would use its ANSI code page)"))
    return [text for _lineno, text in sorted(found, key=lambda item: item[0])]


def _posix_only(module: str, name: str) -> bool:
    if module == "signal" and name.startswith("SIG"):
        return name not in WINDOWS_SIGNALS
    return name in POSIX_CALLS[module]


def test_the_checker_finds_what_it_looks_for():
    bad = ("import fcntl\nimport os, signal\nfrom signal import SIGKILL\nos.killpg(1, signal.SIGKILL)\n"
           "open('x', 'w')\nopen('y')\nPath('z').read_text()\np.open('a')\ngzip.open('f', 'rt')\n"
           "subprocess.run(['x'], text=True)\n")
    good = ("import os, signal\nos.kill(1, signal.SIGTERM)\nopen('x', 'rb')\nopen('y', encoding='utf-8')\n"
            "Path('z').read_text(encoding='utf-8')\np.open('rb')\ngzip.open('f')\nopen(x, **kw)\n")
    assert [f.split(": ", 1)[0] for f in posix_only_and_encodingless("bad.py", bad)] == [
        "bad.py:1", "bad.py:3", "bad.py:4", "bad.py:4", "bad.py:5", "bad.py:6", "bad.py:7", "bad.py:8", "bad.py:9",
        "bad.py:10"]
    assert posix_only_and_encodingless("good.py", good) == []


def test_no_posix_only_call_and_no_text_file_without_encoding():
    found = [f for where, source in _python_sources() for f in posix_only_and_encodingless(where, source)]
    assert found == [], "not portable to Windows or macOS:\n" + "\n".join(found)
