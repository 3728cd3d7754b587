"""Where the API key lives: an environment variable or a private file outside every .blend. No bpy here.

Blender saves add-on preferences into userpref.blend, so the key is not stored there: the preference
property reads and writes this store instead. The file is created with owner-only permissions and
replaced atomically. ``MOVE_API_KEY`` in the environment wins over the file. What was read is kept in memory
and read again only when the file changes (its inode, size or modification time), so panels and poll() can
ask for the key at every redraw without opening the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "MOVE_API_KEY"


class SecretStore:
    """A tiny JSON file of secrets readable by the owner only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._seen: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) of what _data holds
        self._data: dict[str, str] = {}
        self.writes = 0  # how many set() calls this object made (callers cache what they read against it)

    def __repr__(self) -> str:  # never show values
        return f"SecretStore({str(self.path)!r})"

    def _read(self) -> dict[str, str]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._data = None, {}
            return {}
        seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        if seen != self._seen:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                data = {}
            self._data = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            self._seen = seen
        return dict(self._data)

    def get(self, name: str) -> str:
        return self._read().get(name, "")

    def set(self, name: str, value: str) -> None:
        self.writes += 1
        data = self._read()
        value = value.strip()
        if value:
            data[name] = value
        else:
            data.pop(name, None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".secrets-", dir=self.path.parent)
        try:
            os.chmod(tmp, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def resolve_api_key(store: SecretStore | None, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Return (key, source) where source is "environment", "preferences" or "" when no key is set."""
    env = os.environ if environ is None else environ
    key = env.get(ENV_VAR, "").strip()
    if key:
        return key, "environment"
    if store is not None:
        key = store.get("api_key")
        if key:
            return key, "preferences"
    return "", ""
