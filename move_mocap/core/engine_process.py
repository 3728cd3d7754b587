"""Starts, watches, shares and stops a local Move-compatible engine (``local_engine serve``) as a child process.
No bpy here: the bpy layer (``engine_control.engine``) finds the paths and passes them in, and reads ``status`` from its timer.

Installed case (docs/local_engine_packaging.md): the engine is the ``move_mocap_engine`` extension, run with the
Python Blender itself runs, isolated (``-I -S``: no PYTHONPATH, no user or venv site-packages) with an explicit
path list: the engine extension's folder, the site-packages where Blender installed its wheels, then Blender's
own Python site-packages (numpy). :func:`engine_command` builds that line. The Blender binary is passed with
``--blender`` for the FBX/.blend/GLB/USD/BVH writers; an empty one makes the engine offer MOTION_DATA only.

A second Blender reuses a running engine: the starter writes ``engine.json`` (port, pid, the name the key has in
the add-on's secret store) in the add-on's user folder; :func:`read_lock` + the health route (same pid) decide
whether it is still alive. A watcher thread probes ``/_health`` so the UI never waits on the network. The API
key reaches the child through its environment, never its command line (process listings are readable).
"""

from __future__ import annotations

import contextlib
import json
import ntpath
import os
import posixpath
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

KEY_ENV = "LOCAL_ENGINE_API_KEY"
#: The engine's solvers (``local_engine.solvers.SOLVERS``; the add-on cannot import the engine, a test keeps
#: the two equal): name, label, description.
SOLVER_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("mediapipe", "MediaPipe", "Markerless capture from the footage (BlazePose) on this machine"),
    ("replay", "Replay", "Replays a motion file instead of reading the footage (for testing)"),
)
SOLVERS = tuple(item[0] for item in SOLVER_ITEMS)
ENGINE_EXTENSION = "move_mocap_engine"  # the engine extension's id (engine_extension/blender_manifest.toml)
KEY_NAME = "local_engine_key"  # the key's name in the add-on's secret store (what engine.json refers to)
LOCK_NAME = "engine.json"
SITE_PREFIX = "site:"  # marks a site-packages folder in the bootstrap's path list (its .pth files are read)

#: Run by the engine's Python with ``-I -S -c``: puts the path list given before ``--`` on sys.path (plain
#: folders first, site-packages folders after the standard library, in order), then runs ``local_engine``.
BOOTSTRAP = (
    "import runpy,site,sys\n"
    "i=sys.argv.index('--')\n"
    "paths,sys.argv[1:]=sys.argv[1:i],sys.argv[i+1:]\n"
    f"sys.path[0:0]=[p for p in paths if not p.startswith('{SITE_PREFIX}')]\n"
    f"[site.addsitedir(p[{len(SITE_PREFIX)}:]) for p in paths if p.startswith('{SITE_PREFIX}')]\n"
    "runpy.run_module('local_engine',run_name='__main__',alter_sys=True)\n"
)


class EngineError(Exception):
    """The engine cannot be started; the message names the problem and the fix."""


@dataclass(frozen=True)
class EngineStatus:
    state: str  # "stopped", "starting", "running", "exited"
    message: str

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class EngineLaunch:
    """How to run an engine: the interpreter, the folder holding ``local_engine/``, and, when ``isolated``,
    the site-packages folders that make up the rest of its path (else the interpreter's own environment)."""

    python: str
    root: Path
    site_dirs: tuple[str, ...] = ()
    isolated: bool = True
    blender: str = ""  # a Blender binary for the Blender formats ("" : none; the engine says what it cannot make)
    source: str = "installed"  # "installed", "checkout", "override": shown in the panel

    def prefix(self) -> list[str]:
        """The command up to the engine's own arguments (``serve ...``)."""
        if self.isolated:
            paths = [str(self.root), *(SITE_PREFIX + d for d in self.site_dirs)]
            return [self.python, "-I", "-S", "-c", BOOTSTRAP, *paths, "--"]
        return [self.python, "-m", "local_engine"]


def wheels_site_packages(extensions_dir: str, version: Sequence[int], windows: bool | None = None) -> str:
    """Where Blender installs extension wheels for Python ``version``: ``<extensions>/.local/lib/pythonX.Y/
    site-packages`` on every platform (Blender's addon_utils builds the same path)."""
    join = (ntpath.join if windows else posixpath.join) if windows is not None else os.path.join
    return join(extensions_dir, ".local", "lib", f"python{version[0]}.{version[1]}", "site-packages")


def find_engine_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``local_engine/__main__.py`` (a checkout)."""
    for folder in (start, *start.parents):
        if (folder / "local_engine" / "__main__.py").is_file():
            return folder
    return None


def engine_command(launch: EngineLaunch, *, port: int, data_dir: Path, solver: str, motion: Path | None = None,
                   log_level: str = "warning") -> list[str]:
    cmd = [*launch.prefix(), "serve", "--host", "127.0.0.1", "--port", str(port), "--data", str(data_dir),
           "--solver", solver, "--log-level", log_level]
    if launch.blender or launch.isolated:  # "" tells an installed engine it has no Blender (MOTION_DATA only);
        cmd += ["--blender", launch.blender]  # a developer's engine without one falls back to its PyPI bpy

    if motion:
        cmd += ["--motion", str(motion)]
    return cmd


def validate(python: str, root: str | Path | None, solver: str, motion: str | Path | None) -> str | None:
    """An error message for settings that cannot start an engine, or None."""
    if not python:
        return "No Python to run the local engine with: set Engine Python in the add-on's Advanced preferences"
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return f"The engine's Python {python!r} is not an executable file: point it at a Python interpreter"
    if not root or not (Path(root) / "local_engine" / "__main__.py").is_file():
        return ("The engine folder must contain local_engine/: install the Move Mocap Local Engine extension, "
                "or set Engine Folder in the add-on's Advanced preferences")
    if solver not in SOLVERS:
        return f"Unknown solver {solver!r}: choose one of {', '.join(SOLVERS)}"
    if solver == "replay" and not (motion and Path(motion).is_file()):
        return "The replay solver needs a motion file (a BVH): set it in the Local Engine preferences"
    return None


def new_key() -> str:
    return "local-" + secrets.token_urlsafe(24)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def health(port: int, timeout: float = 1.0) -> dict[str, Any] | None:
    """The engine's ``/_health`` answer on ``port``, or None (nothing there, or not an engine)."""
    try:
        resp = requests.get(f"http://127.0.0.1:{port}/_health", timeout=timeout)
        data = resp.json() if resp.ok else None
    except (requests.RequestException, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("ok") is True else None


# -- sharing one engine between Blender instances ---------------------------------------------------------
@dataclass(frozen=True)
class EngineLock:
    port: int
    pid: int
    key_name: str = KEY_NAME
    started: float = field(default_factory=time.time)


def write_lock(folder: Path, lock: EngineLock) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (LOCK_NAME + ".tmp")
    tmp.write_text(json.dumps(lock.__dict__))
    os.replace(tmp, folder / LOCK_NAME)


def read_lock(folder: Path) -> EngineLock | None:
    try:
        data = json.loads((folder / LOCK_NAME).read_text())
        lock = EngineLock(int(data["port"]), int(data["pid"]), str(data.get("key_name", KEY_NAME)),
                          float(data.get("started", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return lock if 0 < lock.port < 65536 and lock.pid > 0 else None


def remove_lock(folder: Path, pid: int | None = None) -> None:
    """Remove the lock (only if it is still ``pid``'s, when given)."""
    lock = read_lock(folder)
    if lock is not None and pid is not None and lock.pid != pid:
        return
    with contextlib.suppress(OSError):
        (folder / LOCK_NAME).unlink()


def live_engine(folder: Path) -> tuple[EngineLock | None, str | None]:
    """(the lock of an engine another Blender started that still answers as that process, None) or (None, why
    there is none to reuse; None when there is no lock at all). A stale lock is removed."""
    lock = read_lock(folder)
    if lock is None:
        return None, None
    answer = health(lock.port)
    if answer is not None and answer.get("pid") == lock.pid:
        return lock, None
    remove_lock(folder, lock.pid)
    return None, (f"the engine recorded in {LOCK_NAME} (pid {lock.pid}, port {lock.port}) no longer answers; "
                  "starting a new one")


class LocalEngine:
    """One engine on 127.0.0.1 (a child process, or one another Blender started: ``owned`` False) and a thread
    watching its health."""

    def __init__(self, launch: EngineLaunch | str, root: Path | None = None, data_dir: Path | None = None, *,
                 port: int, api_key: str, solver: str = "mediapipe", motion: Path | None = None,
                 probe_interval: float = 0.5, owned: bool = True) -> None:
        if isinstance(launch, str):  # (python, root, ...): a developer's Python with the engine's packages
            assert root is not None
            launch = EngineLaunch(launch, Path(root), isolated=False, source="override")
        assert data_dir is not None
        self.launch = launch
        self.python, self.root, self.data_dir = launch.python, launch.root, Path(data_dir)
        self.port, self.solver, self.motion = port, solver, motion
        self.owned = owned
        self.__api_key = api_key
        self.probe_interval = probe_interval
        self.process: subprocess.Popen[bytes] | None = None
        self.health: dict[str, Any] = {}
        self.started_at = 0.0
        self.ready_at = 0.0
        self._status = EngineStatus("stopped", "Local engine stopped")
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"LocalEngine(url={self.url!r}, solver={self.solver!r}, state={self._status.state!r})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ugc/graphql"

    @property
    def api_key(self) -> str:
        return self.__api_key

    @property
    def log_path(self) -> Path:
        return self.data_dir / "engine.log"

    @property
    def status(self) -> EngineStatus:
        return self._status

    def command(self) -> list[str]:
        return engine_command(self.launch, port=self.port, data_dir=self.data_dir, solver=self.solver,
                              motion=self.motion)

    def start(self) -> None:
        """Start the child (returns at once; ``status`` says when it is ready)."""
        if self.process is not None and self.process.poll() is None:
            return
        self.started_at = time.monotonic()
        if not self.owned:  # another Blender's engine: only watch it
            self._status = EngineStatus("starting", f"Connecting to the local engine on 127.0.0.1:{self.port}...")
            self._start_watcher()
            return
        if not port_free(self.port):
            raise EngineError(f"Port {self.port} on 127.0.0.1 is already in use by another program: stop it, or "
                              "choose another Engine Port in the add-on's Advanced preferences")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env[KEY_ENV] = self.__api_key
        env.pop("MOVE_API_KEY", None)
        if self.launch.isolated:
            env.pop("PYTHONPATH", None)  # -I ignores it anyway; keep it out of the writers' environment too
        else:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(self.command(), cwd=self.data_dir, env=env, stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except OSError as exc:
                raise EngineError(f"Could not run {self.python}: {exc.strerror or exc}") from None
        self._status = EngineStatus("starting", f"Local engine starting on 127.0.0.1:{self.port}...")
        self._start_watcher()

    def _start_watcher(self) -> None:
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="move_mocap-engine-watch", daemon=True)
        self._watcher.start()

    def wait_ready(self, timeout: float = 60.0) -> EngineStatus:
        """Block until the engine answers or stops (the blocking path: background mode, scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._status
            if status.state in ("running", "exited", "stopped"):
                return status
            time.sleep(0.05)
        return EngineStatus("starting", f"Local engine did not answer within {timeout:g} s: see {self.log_path}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching; end the process when this Blender started it."""
        self._stop.set()
        proc = self.process
        if self.owned and proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout)
        self._status = EngineStatus("stopped", "Local engine stopped")

    def _last_log_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return lines[-1].strip()[:300]
        return "no output"

    def _watch(self) -> None:
        session = requests.Session()
        url = f"http://127.0.0.1:{self.port}/_health"
        shared = "" if self.owned else ", shared with another Blender"
        while not self._stop.is_set():
            proc = self.process
            code = proc.poll() if proc is not None else None
            if code is not None:
                self._status = EngineStatus(
                    "exited", f"Local engine exited (code {code}): {self._last_log_line()}. Log: {self.log_path}")
                return
            try:
                resp = session.get(url, timeout=1.0)
                answer = resp.json() if resp.ok else None
            except (requests.RequestException, ValueError):
                answer = None
            if isinstance(answer, dict) and answer.get("ok"):
                self.health = answer
                if self._status.state != "running":
                    self.ready_at = time.monotonic()
                self._status = EngineStatus("running", f"Local engine running at {self.url} ({self.solver}{shared})")
            elif not self.owned and self._status.state == "running":
                self._status = EngineStatus("exited", "The local engine another Blender started has stopped")
                return
            elif self._status.state == "running":
                self._status = EngineStatus("starting", f"Local engine not answering at {self.url}; waiting...")
            self._stop.wait(self.probe_interval)
        session.close()
