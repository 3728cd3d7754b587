"""Reading members of an untrusted zip (a downloaded MOTION_DATA archive) within fixed bounds.

A server can send a zip bomb: few bytes on disk, gigabytes once inflated. Here the member count, each
member's declared size and compression ratio are checked before a byte is inflated, and each member is read
through a bounded stream that stops at the limits whatever the headers claim. Only the members asked for are
read, one at a time. Errors name the archive, the member and the limit. No bpy, no network.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 1 << 30  # 1 GiB: hours of multi-actor MOTION_DATA
MAX_RATIO = 100  # JSON of numbers deflates 3-15x; bombs reach 1000x
RATIO_FLOOR = 1 << 20  # members below 1 MiB inflated are never too compressed to matter
_CHUNK = 1 << 20


class ArchiveError(ValueError):
    """The zip is damaged or over a limit; the message names the archive, the member and what to do."""


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def _refuse(name: str, member: str, problem: str) -> ArchiveError:
    return ArchiveError(f"{name}: member {member!r} {problem}; this is not a Move output (a zip bomb or a "
                        "broken server): nothing was imported; download it again or check the endpoint")


def iter_members(source: str | Path | IO[bytes], choose: Callable[[list[str]], list[str]], name: str, *,
                 max_bytes: int = MAX_MEMBER_BYTES, max_ratio: int = MAX_RATIO,
                 max_members: int = MAX_MEMBERS) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member, bytes)`` for the members ``choose(namelist)`` returns, in its order, each read only
    when the caller asks for the next one, each within the limits (else :class:`ArchiveError`)."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ArchiveError(f"{name}: the zip is damaged ({exc}); download it again") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise ArchiveError(f"{name}: the zip holds {len(infos)} members, over the limit of {max_members}; "
                               "this is not a Move output: download it again or check the endpoint")
        by_name = {i.filename: i for i in infos}
        for member in choose([i.filename for i in infos]):
            yield member, _read(zf, by_name[member], name, max_bytes, max_ratio)


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, max_bytes: int, max_ratio: int) -> bytes:
    member = info.filename
    declared, packed = info.file_size, max(info.compress_size, 1)
    if declared > max_bytes:
        raise _refuse(name, member, f"declares {declared:,} bytes uncompressed, over the {_mib(max_bytes)} "
                                    "limit")
    if declared > RATIO_FLOOR and declared > max_ratio * packed:
        raise _refuse(name, member, f"declares a compression ratio of {declared // packed}:1, over the "
                                    f"{max_ratio}:1 limit")
    limit = min(max_bytes, max(RATIO_FLOOR, max_ratio * packed), declared)
    chunks: list[bytes] = []
    total = 0
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(min(_CHUNK, limit + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise _refuse(name, member, f"inflates past {_mib(limit)} (its header says "
                                                f"{_mib(declared)}, {info.compress_size} bytes packed)")
                chunks.append(chunk)
    except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        if isinstance(exc, ArchiveError):
            raise
        raise ArchiveError(f"{name}: member {member!r} cannot be read ({exc}); download it again") from exc
    return b"".join(chunks)
