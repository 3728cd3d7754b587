"""MOTION_DATA zips from a hostile server: real zip bombs (built here, small on disk) are refused before they
inflate, headers that lie are caught by the bounded read, and only the member needed is read. Memory is
measured with tracemalloc (the old reader inflated every member whole)."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from move_mocap.core.archive import MAX_MEMBER_BYTES, ArchiveError, iter_members
from move_mocap.core.motion_data import MotionDataError, read_motion_data

BOMB_MB = 64


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _set_sizes(raw: bytes, member: str, size: int) -> bytes:
    """The zip with ``member``'s uncompressed size rewritten in both headers (a lying archive)."""
    buf = bytearray(raw)
    encoded = member.encode()
    local = buf.index(b"PK\x03\x04")
    while buf[local + 30:local + 30 + len(encoded)] != encoded:
        local = buf.index(b"PK\x03\x04", local + 4)
    struct.pack_into("<I", buf, local + 22, size)
    central = buf.index(b"PK\x01\x02")
    while buf[central + 46:central + 46 + len(encoded)] != encoded:
        central = buf.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", buf, central + 24, size)
    return bytes(buf)


def _peak(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        try:
            out: object = fn()
        except Exception as exc:
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def bomb_member() -> bytes:
    return b" " * (BOMB_MB << 20)  # valid JSON whitespace, 64 MiB, deflates to ~64 KiB


def test_the_issue_bomb_is_refused_before_inflating(tmp_path: Path, bomb_member: bytes) -> None:
    path = tmp_path / "motion_data.zip"
    path.write_bytes(_zip({f"motion_data_{i}.json": bomb_member for i in range(4)}))
    assert path.stat().st_size < 2 << 20
    err, peak = _peak(lambda: read_motion_data(path))
    assert isinstance(err, MotionDataError), err
    assert "motion_data.zip" in str(err) and "compression ratio" in str(err) and "zip bomb" in str(err)
    assert peak < 8 << 20, f"{peak >> 20} MiB allocated for a refused archive"


def test_a_lying_header_is_stopped_by_the_bounded_read(tmp_path: Path, bomb_member: bytes) -> None:
    raw = _zip({"motion_data.json": bomb_member})
    packed = zipfile.ZipFile(io.BytesIO(raw)).infolist()[0].compress_size
    path = tmp_path / "liar.zip"
    path.write_bytes(_set_sizes(raw, "motion_data.json", packed * 20))  # claims a modest 20:1
    err, peak = _peak(lambda: read_motion_data(path))
    assert isinstance(err, MotionDataError) and "liar.zip" in str(err), err
    assert peak < 8 << 20, f"{peak >> 20} MiB allocated"


def test_declared_size_and_member_count_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.zip"
    big.write_bytes(_set_sizes(_zip({"motion_data.json": b"{}"}), "motion_data.json", MAX_MEMBER_BYTES + 1))
    with pytest.raises(MotionDataError, match=r"declares 1,073,741,825 bytes uncompressed, over the 1024 MiB limit"):
        read_motion_data(big)
    many = tmp_path / "many.zip"
    many.write_bytes(_zip({f"m{i}.json": b"{}" for i in range(1500)}))
    with pytest.raises(MotionDataError, match="1500 members, over the limit of 1000"):
        read_motion_data(many)


def test_only_the_member_needed_is_read(tmp_path: Path, motion_sample: Path, bomb_member: bytes) -> None:
    path = tmp_path / "mixed.zip"
    path.write_bytes(_zip({"a_bomb.json": bomb_member, "extra.bin": bomb_member,
                           "motion_data.json": motion_sample.read_bytes()}))
    data, peak = _peak(lambda: read_motion_data(path))
    assert not isinstance(data, Exception), data
    assert data.take().frame_count == 4  # type: ignore[attr-defined]
    assert peak < 8 << 20


def test_iter_members_reads_lazily(bomb_member: bytes) -> None:
    raw = _zip({"ok.json": b"{}", "bomb.json": bomb_member})
    it = iter_members(io.BytesIO(raw), lambda names: names, "x.zip")
    assert next(it) == ("ok.json", b"{}")
    with pytest.raises(ArchiveError, match=r"bomb\.json"):
        next(it)


def test_the_importer_reports_the_bomb_and_keeps_nothing(addon, tmp_path: Path, bomb_member: bytes) -> None:
    import bpy

    from move_mocap.importers.load import ImportOutputError, import_output

    path = tmp_path / "motion_data.zip"
    path.write_bytes(_zip({"motion_data.json": bomb_member}))
    before = (len(bpy.data.objects), len(bpy.data.actions), len(bpy.data.armatures))
    with pytest.raises(ImportOutputError, match="compression ratio"):
        import_output(path, kind="MOTION_DATA")
    assert (len(bpy.data.objects), len(bpy.data.actions), len(bpy.data.armatures)) == before
