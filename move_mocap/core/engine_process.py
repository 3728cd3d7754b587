"""Starts, watches and stops a local Move-compatible engine (``python -m local_engine serve``) as a child
process. No bpy here: the bpy layer injects the paths and reads ``status`` from its timer.

The engine is a separate component (never inside the extension zip): the user points the add-on at a
Python that has the engine's packages and at the folder that holds ``local_engine/``. A watcher thread
probes ``/_health`` so the UI never waits on the network. The API key reaches the child through its
environment, never its command line (process listings are readable by other users).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

KEY_ENV = "LOCAL_ENGINE_API_KEY"
SOLVERS = ("mediapipe", "replay")


class EngineError(Exception):
    """The engine cannot be started; the message names the problem and the fix."""


@dataclass(frozen=True)
class EngineStatus:
    state: str  # "stopped", "starting", "running", "exited"
    message: str

    @property
    def running(self) -> bool:
        return self.state == "running"


def find_engine_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``local_engine/__main__.py`` (a checkout)."""
    for folder in (start, *start.parents):
        if (folder / "local_engine" / "__main__.py").is_file():
            return folder
    return None


def validate(python: str, root: str | Path | None, solver: str, motion: str | Path | None) -> str | None:
    """An error message for settings that cannot start an engine, or None."""
    if not python:
        return "Set the engine's Python in Preferences > Add-ons > Move Mocap > Local Engine"
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return f"The engine's Python {python!r} is not an executable file: point it at the engine's venv python"
    if not root or not (Path(root) / "local_engine" / "__main__.py").is_file():
        return ("The engine folder must contain local_engine/ (the move_mocap repository): "
                "set it in Preferences > Add-ons > Move Mocap > Local Engine")
    if solver not in SOLVERS:
        return f"Unknown solver {solver!r}: choose one of {', '.join(SOLVERS)}"
    if solver == "replay" and not (motion and Path(motion).is_file()):
        return "The replay solver needs a motion file (a BVH): set it in the Local Engine preferences"
    return None


def new_key() -> str:
    return "local-" + secrets.token_urlsafe(24)


class LocalEngine:
    """One engine child process on 127.0.0.1 and a thread watching its health."""

    def __init__(self, python: str, root: Path, data_dir: Path, *, port: int, api_key: str,
                 solver: str = "mediapipe", motion: Path | None = None, probe_interval: float = 0.5) -> None:
        self.python, self.root, self.data_dir = python, Path(root), Path(data_dir)
        self.port, self.solver, self.motion = port, solver, motion
        self.__api_key = api_key
        self.probe_interval = probe_interval
        self.process: subprocess.Popen[bytes] | None = None
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
        cmd = [self.python, "-m", "local_engine", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data", str(self.data_dir), "--solver", self.solver, "--log-level", "warning"]
        if self.motion:
            cmd += ["--motion", str(self.motion)]
        return cmd

    def start(self) -> None:
        """Start the child (returns at once; ``status`` says when it is ready)."""
        if self.process is not None and self.process.poll() is None:
            return
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                raise EngineError(f"Port {self.port} on 127.0.0.1 is already in use: stop what uses it, or choose "
                                  "another port in the Local Engine preferences") from None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env[KEY_ENV] = self.__api_key
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH")]))
        env.pop("MOVE_API_KEY", None)
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(self.command(), cwd=self.root, env=env, stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except OSError as exc:
                raise EngineError(f"Could not run {self.python}: {exc.strerror or exc}") from None
        self._status = EngineStatus("starting", f"Local engine starting on 127.0.0.1:{self.port}...")
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
        self._stop.set()
        proc = self.process
        if proc is not None and proc.poll() is None:
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
        health = f"http://127.0.0.1:{self.port}/_health"
        while not self._stop.is_set():
            proc = self.process
            code = proc.poll() if proc is not None else None
            if code is not None:
                self._status = EngineStatus(
                    "exited", f"Local engine exited (code {code}): {self._last_log_line()}. Log: {self.log_path}")
                return
            try:
                ok = session.get(health, timeout=1.0).ok
            except requests.RequestException:
                ok = False
            if ok:
                self._status = EngineStatus("running", f"Local engine running at {self.url} ({self.solver})")
            elif self._status.state == "running":
                self._status = EngineStatus("starting", f"Local engine not answering at {self.url}; waiting...")
            self._stop.wait(self.probe_interval)
        session.close()
