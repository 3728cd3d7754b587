"""Transport limits on untrusted servers, against real local HTTP servers (tests/hostile/server.py):
Retry-After parsed safely and capped, redirect rules for presigned transfers, no redirects for GraphQL, an
overall deadline for a trickled answer, download size cap and integrity, cancel within a second."""

from __future__ import annotations

import threading
import time

import pytest

from move_mocap.core.api.client import MoveClient
from move_mocap.core.api.errors import NetworkError, TransferCancelledError, TransferError
from move_mocap.core.api.guard import redirect_problem, url_problem
from move_mocap.core.api.http import RETRY_AFTER_CAP, parse_retry_after
from move_mocap.core.api.retry import RetryPolicy
from move_mocap.core.api.transfers import download_file, partial_path
from tests.hostile.server import API_KEY, Behaviour, HostileServer

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.mark.parametrize(("value", "expected"), [
    ("999999999", RETRY_AFTER_CAP), ("inf", RETRY_AFTER_CAP), ("Infinity", RETRY_AFTER_CAP), ("nan", None),
    ("-5", 0.0), ("1e400", RETRY_AFTER_CAP), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ("Fri, 01 Jan 2100 00:00:00 GMT", RETRY_AFTER_CAP), ("soon", None), ("", None), ("9" * 5000, None),
    ("Mon, 99 Foo 99999 99:99:99 GMT", None), ("2.5", 2.5),
])
def test_retry_after_is_parsed_safely_and_capped(value, expected) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_never_goes_past_the_calls_deadline() -> None:
    behaviour = Behaviour(graphql_raw={"getJob": (429, {"Retry-After": "inf"}, b"{}")})
    slept: list[float] = []
    with HostileServer(behaviour) as server:
        client = MoveClient(API_KEY, endpoint=server.url, retry=FAST, request_deadline=5.0, sleep=slept.append)
        started = time.monotonic()
        with pytest.raises(Exception, match="rate limited"):
            client.get_job("x")
    assert time.monotonic() - started < 2.0 and not slept  # 60 s > the 5 s deadline: raised, not slept


@pytest.mark.parametrize(("current", "target", "problem"), [
    ("https://s3.example.com/a", "https://s3.example.com/b", None),
    ("https://s3.example.com/a", "https://evil.example.net/b", "another host"),
    ("https://s3.example.com/a", "http://s3.example.com/b", "https to http"),
    ("http://s3.example.com/a", "http://169.254.169.254/latest", "link-local"),
    ("http://s3.example.com/a", "http://[fe80::1]/x", "link-local"),
    ("http://s3.example.com/a", "file:///etc/passwd", "not an http"),
])
def test_redirect_rules(current, target, problem) -> None:
    got = redirect_problem(current, target)
    assert (got is None) if problem is None else (problem in (got or ""))
    assert url_problem("http://169.254.169.254/latest") and url_problem("https://s3.example.com/x") is None


def test_graphql_follows_no_redirect() -> None:
    behaviour = Behaviour(graphql_raw={"getJob": (307, {"Location": "/graphql2"}, b"")})
    with HostileServer(behaviour) as server:
        client = MoveClient(API_KEY, endpoint=server.url, retry=FAST)
        with pytest.raises(Exception, match="redirect"):
            client.get_job("x")
        assert server.calls["getJob"] == 1


def test_download_redirect_to_another_host_is_refused(tmp_path) -> None:
    with HostileServer(Behaviour(redirect_download="http://127.0.0.2:9/out/x?redirected=1")) as server:
        dest = tmp_path / "out.bvh"
        with pytest.raises(TransferError, match="another host"):
            download_file(server.base + "/out/m.bvh", dest, retry=FAST)
    assert not dest.exists() and not partial_path(dest).exists()


def test_download_redirect_on_the_same_host_is_followed(tmp_path) -> None:
    with HostileServer(Behaviour(redirect_download="{base}/out/m.bvh?redirected=1"), output_body=b"abc") as server:
        dest = download_file(server.base + "/out/m.bvh", tmp_path / "out.bvh", retry=FAST)
    assert dest.read_bytes() == b"abc"


def test_trickled_graphql_answer_is_cut_at_the_deadline() -> None:
    with HostileServer(Behaviour(trickle={"getJob": 0.05})) as server:
        client = MoveClient(API_KEY, endpoint=server.url, retry=FAST, timeout=(2.0, 1.0), request_deadline=1.0)
        started = time.monotonic()
        with pytest.raises(NetworkError, match="timed out"):
            client.get_job("x")
        assert time.monotonic() - started < 2.5  # one byte every 50 ms never trips the 1 s read timeout


def test_trickled_download_is_cut_and_keeps_nothing(tmp_path) -> None:
    with HostileServer(Behaviour(trickle={"download": 0.02}), output_body=b"x" * 5000) as server:
        dest = tmp_path / "out.bvh"
        started = time.monotonic()
        with pytest.raises(TransferError, match="too slowly"):
            download_file(server.base + "/out/m.bvh", dest, retry=FAST, deadline=1.0, min_rate=1000.0)
    assert time.monotonic() - started < 3.0
    assert not dest.exists() and not partial_path(dest).exists()


def test_download_over_the_size_cap_is_refused(tmp_path) -> None:
    with HostileServer(Behaviour(output_length=10_000_000), output_body=b"x" * 1000) as server:
        dest = tmp_path / "out.bvh"
        with pytest.raises(TransferError, match="more than"):
            download_file(server.base + "/out/m.bvh", dest, retry=FAST, max_bytes=1_000_000)
    assert not dest.exists() and not partial_path(dest).exists()


def test_short_body_fails_and_leaves_no_output(tmp_path) -> None:
    with HostileServer(Behaviour(output_length=2000), output_body=b"x" * 1000) as server:
        dest = tmp_path / "out.bvh"
        with pytest.raises(NetworkError):
            download_file(server.base + "/out/m.bvh", dest, retry=FAST)
    assert not dest.exists()


@pytest.mark.parametrize("stage", ["graphql", "download"])
def test_cancel_stops_a_trickled_exchange_within_a_second(stage, tmp_path) -> None:
    cancel = threading.Event()
    behaviour = Behaviour(trickle={"getJob": 0.2} if stage == "graphql" else {"download": 0.01})
    with HostileServer(behaviour, output_body=b"x" * 100_000) as server:
        client = MoveClient(API_KEY, endpoint=server.url, retry=FAST, should_cancel=cancel.is_set)
        threading.Timer(0.5, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(TransferCancelledError):
            if stage == "graphql":
                client.get_job("x")
            else:
                download_file(server.base + "/out/m.bvh", tmp_path / "o.bvh", retry=FAST,
                              should_cancel=cancel.is_set)
        latency = time.monotonic() - started - 0.5
    assert latency < 3.0, latency  # the figure (well under 1 s) is reported by scripts/bench.py hostile


def test_share_code_exchange_follows_no_redirect_and_has_a_deadline() -> None:
    """The share-code exchange is an API call like the others: no redirect followed (not even on the same host),
    a trickled answer cut at the call's deadline, Cancel honoured within a second."""
    with HostileServer(Behaviour(redirect_download="{base}/ugc/file/download?redirected=1&code=12345678")) as server:
        client = MoveClient(API_KEY, endpoint=server.url, retry=FAST)
        with pytest.raises(Exception, match="redirect"):
            client.resolve_share_code("12345678")
    with HostileServer(Behaviour(trickle={"share": 0.05})) as server:
        client = MoveClient(API_KEY, endpoint=server.url, retry=FAST, timeout=(2.0, 1.0), request_deadline=1.0)
        started = time.monotonic()
        with pytest.raises(NetworkError, match="timed out"):
            client.resolve_share_code("12345678")
        assert time.monotonic() - started < 2.5  # one byte every 50 ms never trips the 1 s read timeout
        cancel = threading.Event()
        client = MoveClient(API_KEY, endpoint=server.url, retry=FAST, should_cancel=cancel.is_set)
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(TransferCancelledError):
            client.resolve_share_code("12345678")
        assert time.monotonic() - started - 0.3 < 1.0
    with HostileServer(Behaviour()) as server:  # a well-behaved server still works
        client = MoveClient(API_KEY, endpoint=server.url, retry=FAST)
        assert client.resolve_share_code("1234-5678").endswith("/out/shared.bvh")
