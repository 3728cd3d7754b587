"""Type aliases for the bpy layer, matching the fake-bpy-module stubs mypy checks against. No runtime effect."""

from __future__ import annotations

from typing import Literal

OperatorReturn = set[Literal["RUNNING_MODAL", "CANCELLED", "FINISHED", "PASS_THROUGH", "INTERFACE"]]
ReportLevel = Literal["DEBUG", "INFO", "OPERATOR", "PROPERTY", "WARNING", "ERROR"]
