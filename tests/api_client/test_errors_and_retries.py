"""Error mapping and retry policy of the GraphQL client, against a real local HTTP server."""

from __future__ import annotations

import random
import socket
import time

import pytest

from move_mocap.core.api import (
    AuthError,
    MalformedResponseError,
    MoveClient,
    MoveValidationError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from move_mocap.core.api.errors import MoveAPIError
from move_mocap.core.api.http import parse_retry_after
from move_mocap.core.api.retry import call_with_retries

from .conftest import API_KEY, fast_retry, json_answer

CLIENT_DATA = {"data": {"client": {"id": "client-1", "name": "n", "created": "2024-01-01T00:00:00Z"}}}
FILE_DATA = {"data": {"createFile": {"id": "file-1", "type": "mp4", "presignedUrl": "http://x/up?sig=s"}}}


# ------------------------------------------------------------------------------------------- policy


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0, jitter=False)
    assert [policy.backoff(i) for i in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = RetryPolicy(base_delay=0.5, max_delay=4.0, rng=random.Random(7))
    samples = [jittered.backoff(i) for i in range(200) for _ in range(1)]
    assert all(0 <= s <= 4.0 for s in samples)
    assert len({round(s, 6) for s in samples}) > 150  # really random, not lockstep
    assert max(jittered.backoff(3) for _ in range(200)) > 3.0  # full range is used up to the cap


def test_policy_gives_up_after_attempts_and_on_permanent_errors():
    policy = RetryPolicy(attempts=3, jitter=False, base_delay=1)
    transient = ServerError("boom")
    assert policy.delay_for(0, transient) == 1 and policy.delay_for(1, transient) == 2
    assert policy.delay_for(2, transient) is None
    assert policy.delay_for(0, MoveValidationError("bad")) is None
    assert policy.delay_for(0, AuthError("no")) is None


def test_retry_after_is_a_floor_and_too_long_raises():
    policy = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.02, max_retry_after=60)
    assert policy.delay_for(0, RateLimitError("slow", retry_after=7)) == 7
    assert policy.delay_for(0, RateLimitError("slow", retry_after=600)) is None


def test_call_with_retries_counts_and_sleeps():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise NetworkError("down")
        return "ok"

    policy = RetryPolicy(attempts=5, base_delay=1, max_delay=8, jitter=False)
    assert call_with_retries(flaky, policy, sleep=sleeps.append) == "ok"
    assert sleeps == [1, 2]
    calls.clear()
    with pytest.raises(NetworkError):
        call_with_retries(flaky, policy, is_safe=lambda e: False, sleep=sleeps.append)


def test_parse_retry_after_seconds_and_dates():
    assert parse_retry_after("12") == 12
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= parse_retry_after(future) <= 31


# ---------------------------------------------------------------------------------- error mapping


def test_missing_key_is_an_auth_error_without_a_request(stub, make_client):
    client = make_client(api_key="  ")
    with pytest.raises(AuthError, match="No Move API key"):
        client.get_client()
    assert stub.state.requests == []


def test_key_is_sent_without_scheme(stub, make_client):
    stub.state.graphql_handler = lambda payload, headers: json_answer(CLIENT_DATA)
    make_client().get_client()
    assert stub.state.requests[0].headers["Authorization"] == API_KEY


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_is_an_auth_error(stub, make_client, status):
    body = {"errors": [{"errorType": "UnauthorizedException", "message": "You are not authorized"}]}
    stub.state.graphql_handler = lambda payload, headers: json_answer(body, status)
    with pytest.raises(AuthError, match="refused") as info:
        make_client().get_client()
    assert len(stub.requests_to("/graphql")) == 1  # not retried
    assert API_KEY not in str(info.value)


def test_graphql_unauthorized_error_type_is_auth(stub, make_client):
    body = {"data": None, "errors": [{"errorType": "UnauthorizedException", "message": "Valid API key required"}]}
    stub.state.graphql_handler = lambda payload, headers: json_answer(body)
    with pytest.raises(AuthError):
        make_client().get_client()


def test_not_found_error_type(stub, make_client, responses):
    body = {"data": None, "errors": responses["job_job_not_found"]}
    stub.state.graphql_handler = lambda payload, headers: json_answer(body)
    with pytest.raises(NotFoundError, match="getJob"):
        make_client().get_job("job-missing")
    assert len(stub.requests_to("/graphql")) == 1


def test_validation_error_carries_server_message_and_type(stub, make_client):
    body = {"data": None, "errors": [{"errorType": "MoveValidationError", "message": "endTime beyond clip length",
                                      "path": ["createSingleCamJob"]}]}
    stub.state.graphql_handler = lambda payload, headers: json_answer(body)
    with pytest.raises(MoveValidationError) as info:
        make_client().create_single_cam_job("take-1")
    assert info.value.server_message == "endTime beyond clip length"
    assert info.value.error_type == "MoveValidationError" and info.value.path == ["createSingleCamJob"]
    assert "endTime beyond clip length" in str(info.value)


def test_query_retries_5xx_then_succeeds(stub, make_client):
    stub.state.fail_statuses = [502, 503]
    stub.state.graphql_handler = lambda payload, headers: json_answer(CLIENT_DATA)
    assert make_client().get_client().id == "client-1"
    assert len(stub.requests_to("/graphql")) == 3


def test_query_5xx_exhausted_is_a_server_error(stub, make_client):
    stub.state.fail_statuses = [500] * 10
    with pytest.raises(ServerError) as info:
        make_client(retry=fast_retry(3)).get_client()
    assert info.value.retryable and info.value.status == 500
    assert len(stub.requests_to("/graphql")) == 3


def test_rate_limit_honours_retry_after(stub, make_client):
    stub.state.fail_statuses = [429]
    stub.state.retry_after = "1"
    stub.state.graphql_handler = lambda payload, headers: json_answer(CLIENT_DATA)
    slept: list[float] = []
    make_client(sleep=slept.append).get_client()
    assert slept and slept[0] >= 1.0
    stub.state.fail_statuses = [429] * 10
    with pytest.raises(RateLimitError) as info:
        make_client(sleep=lambda s: None, retry=fast_retry(2)).get_client()
    assert info.value.retry_after == 1.0


def test_create_is_not_resent_after_a_5xx(stub, make_client):
    stub.state.fail_statuses = [502]
    stub.state.graphql_handler = lambda payload, headers: json_answer(FILE_DATA)
    with pytest.raises(OutcomeUnknownError) as info:
        make_client().create_file("mp4", metadata={"move_mocap_request": "r-42"})
    assert len(stub.requests_to("/graphql")) == 1
    assert info.value.metadata == {"move_mocap_request": "r-42"}
    assert info.value.operation == "createFile" and not info.value.retryable


def test_create_is_not_resent_after_a_lost_answer(stub, make_client):
    stub.state.graphql_handler = lambda payload, headers: (0, {}, b"")  # server closes without answering
    with pytest.raises(OutcomeUnknownError, match="not sent again"):
        make_client().create_single_cam_job("take-1", metadata={"tag": "t1"})
    assert len(stub.requests_to("/graphql")) == 1


def test_create_read_timeout_is_outcome_unknown(stub, make_client):
    def slow(payload, headers):
        time.sleep(1.5)
        return json_answer(FILE_DATA)

    stub.state.graphql_handler = slow
    with pytest.raises(OutcomeUnknownError):
        make_client(timeout=(2.0, 0.3)).create_file("mp4")
    assert len(stub.requests_to("/graphql")) == 1


def test_query_read_timeout_is_retried(stub, make_client):
    calls = []

    def slow_once(payload, headers):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.0)
        return json_answer(CLIENT_DATA)

    stub.state.graphql_handler = slow_once
    assert make_client(timeout=(2.0, 0.3)).get_client().id == "client-1"
    assert len(calls) == 2


def test_create_rate_limited_is_retried(stub, make_client):
    stub.state.fail_statuses = [429]
    stub.state.graphql_handler = lambda payload, headers: json_answer(FILE_DATA)
    assert make_client().create_file("mp4").id == "file-1"
    assert len(stub.requests_to("/graphql")) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_a_network_error_and_safe_for_creates():
    client = MoveClient(API_KEY, endpoint=f"http://127.0.0.1:{_free_port()}/graphql", retry=fast_retry(3))
    with pytest.raises(NetworkError) as info:
        client.create_file("mp4")  # never sent: retried, then a plain NetworkError (not OutcomeUnknown)
    assert info.value.request_sent is False and info.value.retryable
    assert "check the network connection" in str(info.value)


@pytest.mark.parametrize(
    "answer, match",
    [
        ((200, {}, b"<html>gateway</html>"), "not JSON"),
        ((200, {}, b"[1, 2]"), "not a GraphQL response"),
        ((200, {}, b'{"data": {}}'), "no data.client"),
        ((200, {}, b'{"data": {"client": {"id": 5, "name": []}}}'), "does not match"),
    ],
)
def test_malformed_answers(stub, make_client, answer, match):
    stub.state.graphql_handler = lambda payload, headers: answer
    with pytest.raises(MalformedResponseError, match=match):
        make_client().get_client()


def test_unknown_job_state_is_malformed_not_a_crash(stub, make_client):
    body = {"data": {"getJob": {"id": "job-1", "progress": {"state": "TELEPORTING", "percentageComplete": 3}}}}
    stub.state.graphql_handler = lambda payload, headers: json_answer(body)
    with pytest.raises(MalformedResponseError, match=r"TELEPORTING|progress\.state"):
        make_client().get_job("job-1")


def test_every_error_is_a_move_api_error_with_fix_text():
    for cls in (AuthError, NotFoundError, MoveValidationError, RateLimitError, ServerError, NetworkError,
                MalformedResponseError, OutcomeUnknownError):
        assert issubclass(cls, MoveAPIError)
