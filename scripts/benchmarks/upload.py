"""Upload throughput benchmark: MoveClient's streaming PUT vs ``curl -T`` against the same local engine.

Starts ``python -m local_engine serve`` on a free loopback port, writes a test file (default 2 GiB), then
uploads it to fresh presigned URLs alternately with curl and with the client (best of ``--rounds`` each) and
samples the client's RSS while it uploads. Prints one JSON line:
``{"ratio_vs_curl": client MiB/s / curl MiB/s, "rss_growth_mib": peak RSS growth during the client upload, ...}``
Targets: ratio_vs_curl >= 0.8, rss_growth_mib <= 64. No bpy here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_file(path: Path, size: int) -> None:
    block = os.urandom(16 * 1024 * 1024)
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n


class _RssSampler(threading.Thread):
    """Peak RSS growth of this process: sampled every 50 ms, plus the kernel's exact high-water mark
    (ru_maxrss) whenever the upload pushed it above the peak seen before. Sampling faster than this costs
    the upload measurable throughput on a 2-core machine (the sampler competes for the GIL and a core)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.baseline = self.proc.memory_info().rss
        self.maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak = self.baseline
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def stop(self) -> float:
        self.stop_event.set()
        self.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if maxrss > self.maxrss_before:
            self.peak = max(self.peak, maxrss)
        return (self.peak - self.baseline) / 2**20


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py upload", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048, help="test file size in MiB (default 2048)")
    parser.add_argument("--rounds", type=int, default=2, help="uploads per method; the best is kept")
    parser.add_argument("--chunk-mib", type=int, default=8, help="client upload chunk size in MiB")
    parser.add_argument("--motion", type=Path, default=ROOT / ".cache" / "testdata" / "bvh" / "01_03.bvh")
    args = parser.parse_args(argv)

    from move_mocap.core.api import MoveClient
    from move_mocap.core.api.transfers import upload_file

    if shutil.which("curl") is None:
        print("bench upload: curl is needed for the baseline", file=sys.stderr)
        return 2
    size = args.size_mib * 2**20
    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    port = _free_port()
    key = secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(work / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [sys.executable, "-m", "local_engine", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data", str(work / "data"), "--api-key", key, "--motion", str(args.motion),
         "--max-upload-bytes", str(size + 2**20), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/_health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print(f"bench upload: server did not start; see {work / 'server.log'}", file=sys.stderr)
                return 1
            time.sleep(0.1)
        src = work / "upload.bin"
        _write_file(src, size)
        client = MoveClient(key, endpoint=f"{base}/ugc/graphql", timeout=(10.0, 600.0))
        curl_times: list[float] = []
        curl_noexpect_times: list[float] = []
        client_times: list[float] = []
        rss_growth = 0.0
        def run_curl(extra: list[str], times: list[float]) -> None:
            url = client.create_file("bin").presigned_url or ""
            os.sync()  # start each upload with no dirty pages left by the previous one
            t0 = time.perf_counter()
            subprocess.run(["curl", "-sS", "--fail", *extra, "-T", str(src), "-o", os.devnull, url], check=True)
            times.append(time.perf_counter() - t0)
            _remove_uploads(work / "data")

        def run_client() -> float:
            url = client.create_file("bin").presigned_url or ""
            os.sync()
            sampler = _RssSampler()
            sampler.start()
            t0 = time.perf_counter()
            upload_file(url, src, session=client.session, timeout=(10.0, 600.0), chunk_size=args.chunk_mib * 2**20)
            client_times.append(time.perf_counter() - t0)
            growth = sampler.stop()
            _remove_uploads(work / "data")
            return growth

        for round_index in range(args.rounds):
            # plain ``curl -T`` is the baseline; curl without its ``Expect: 100-continue`` handshake is reported
            # too. The order alternates between rounds so neither side always runs first.
            if round_index % 2 == 0:
                run_curl([], curl_times)
                run_curl(["-H", "Expect:"], curl_noexpect_times)
                rss_growth = max(rss_growth, run_client())
            else:
                rss_growth = max(rss_growth, run_client())
                run_curl(["-H", "Expect:"], curl_noexpect_times)
                run_curl([], curl_times)
        client.close()
        mib = size / 2**20
        curl_best, client_best = min(curl_times), min(client_times)
        print(json.dumps({
            "ratio_vs_curl": round(curl_best / client_best, 3),
            "rss_growth_mib": round(rss_growth, 1),
            "client_mib_s": round(mib / client_best, 1),
            "curl_mib_s": round(mib / curl_best, 1),
            "ratio_vs_curl_no_expect": round(min(curl_noexpect_times) / client_best, 3),
            "curl_no_expect_mib_s": round(mib / min(curl_noexpect_times), 1),
            "size_mib": args.size_mib,
            "rounds": args.rounds,
            "chunk_mib": args.chunk_mib,
        }))
        return 0
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _remove_uploads(data_dir: Path) -> None:
    """Delete uploaded payloads between rounds so a 2 GiB run does not fill the disk (the server's records stay)."""
    for path in data_dir.rglob("*.bin"):
        try:
            path.unlink()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
