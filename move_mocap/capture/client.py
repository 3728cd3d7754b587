"""Builds the API client from the user's settings, and the "Check API Key" operator.

``client_factory(settings)`` is the one place the bpy layer turns preferences into a ``MoveClient`` (the
pipeline's workers call the factory; ``make_client(context)`` calls it once); the client itself
(``core.api``) knows nothing of Blender. The key check runs on a worker thread when invoked from the
UI (Blender keeps drawing) and blocking in ``execute()`` (background mode and scripts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import bpy

from ..bl_types import OperatorReturn, ReportLevel
from ..core.api.client import MoveClient
from ..core.api.errors import MoveAPIError
from ..core.api.redact import redact_text
from ..preferences import Settings, settings
from .network import NetworkPollMixin


def client_factory(s: Settings) -> Callable[..., MoveClient]:
    """A function that builds a ``MoveClient`` from ``s`` on any thread (key, endpoint and timeout are plain
    values captured here, on the main thread): what the pipeline's workers call."""
    endpoint, key, timeout = s.endpoint, s.api_key, s.timeout

    def make(sleep: Callable[[float], None] = time.sleep) -> MoveClient:
        return MoveClient(key, endpoint=endpoint, timeout=timeout, sleep=sleep)

    return make


def make_client(context: bpy.types.Context | None = None, s: Settings | None = None) -> MoveClient:
    """A client from the preferences (``s``, or read from ``context``)."""
    return client_factory(s or settings(context))()


def _check(s: Settings) -> tuple[ReportLevel, str]:
    """(level, message) for the status bar, with every form of the key redacted (a server may echo it, even
    as the account name); runs on any thread, touches no bpy."""
    level, message = _check_unredacted(s)
    return level, redact_text(message, [s.api_key])


def _check_unredacted(s: Settings) -> tuple[ReportLevel, str]:
    try:
        with make_client(s=s) as client:
            account = client.get_client()
    except MoveAPIError as exc:
        return "ERROR", f"API key check failed: {exc}"
    except Exception as exc:  # a bug, not the user's problem: still say something useful
        return "ERROR", f"API key check failed unexpectedly: {type(exc).__name__}: {exc}"
    name = getattr(account, "name", None) or getattr(account, "id", "") or "account"
    return "INFO", f"API key accepted by {s.endpoint} ({name})"


class MOVE_MOCAP_OT_check_api_key(NetworkPollMixin, bpy.types.Operator):
    """Ask the server whether the API key is valid"""

    bl_idname = "move_mocap.check_api_key"
    bl_label = "Check API Key"
    bl_options = {"REGISTER"}

    _thread: threading.Thread | None = None
    _timer: Any = None

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        level, message = _check(settings(context))
        self.report({level}, message)
        return {"FINISHED"} if level == "INFO" else {"CANCELLED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        if bpy.app.background or context.window_manager is None or context.window is None:
            return self.execute(context)
        s = settings(context)
        holder: dict[str, tuple[ReportLevel, str]] = {}

        def work() -> None:
            holder["result"] = _check(s)

        self._holder = holder
        self._thread = threading.Thread(target=work, name="move_mocap-check-key", daemon=True)
        self._thread.start()
        self._timer = context.window_manager.event_timer_add(0.1, window=context.window)
        context.window_manager.modal_handler_add(self)
        self.report({"INFO"}, f"Checking the API key with {s.endpoint}...")
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        if event.type != "TIMER" or "result" not in self._holder:
            return {"PASS_THROUGH"}
        assert context.window_manager is not None
        context.window_manager.event_timer_remove(self._timer)
        level, message = self._holder["result"]
        self.report({level}, message)
        return {"FINISHED"} if level == "INFO" else {"CANCELLED"}


CLASSES = (MOVE_MOCAP_OT_check_api_key,)
