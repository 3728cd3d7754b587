"""The server's settings, filled from the command line. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MAX_UPLOAD = 4 * 1024**3  # 4 GiB


@dataclass
class ServerConfig:
    data_dir: Path
    api_key: str
    host: str = "127.0.0.1"
    port: int = 8765
    solver: str = "replay"
    solver_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"motion": Path(...)}
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    url_ttl: float = 3600.0  # seconds a presigned URL stays valid
    public_url: str | None = None  # base of URLs handed out; default: what the client used to reach us
    faults: list[dict[str, Any]] = field(default_factory=list)
    export_python: str | None = None  # interpreter with bpy for the FBX/BLEND/GLB/USD writers (developers)
    blender: str | None = None  # a Blender binary for those writers (what the add-on passes); wins over the above
    job_timeout: float = 1800.0  # seconds one job may run before it FAILS and the worker moves on
    upload_idle_timeout: float = 60.0  # seconds an upload may send nothing before it is dropped (408)
