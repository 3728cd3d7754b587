"""Fixtures of the API client tests: upstream's schema and real responses, a real local HTTP server, and a
GraphQL handler that executes the client's documents against upstream's schema (so variables are coerced
and checked by graphql-core exactly as a GraphQL server would)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from graphql import GraphQLSchema, build_client_schema, graphql_sync

from move_mocap.core.api import MoveClient, RetryPolicy
from tests.conftest import MOVE_API, require_move_api

from .httpstub import StubServer

RESPONSES = MOVE_API / "responses"
API_KEY = "mv-test-KEY-0123456789abcdef"


@pytest.fixture(scope="session")
def schema() -> GraphQLSchema:
    data = json.loads(require_move_api("introspection.json").read_text())
    return build_client_schema(data.get("data", data))


@pytest.fixture(scope="session")
def responses() -> dict[str, Any]:
    found = {p.stem: json.loads(p.read_text()) for p in sorted(require_move_api("responses").glob("*.json"))}
    if not found:
        pytest.fail(f"no recorded Move responses in {RESPONSES}")
    return found


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


def fast_retry(attempts: int = 4) -> RetryPolicy:
    """Real backoff arithmetic, tiny delays (tests count attempts, not seconds)."""
    return RetryPolicy(attempts=attempts, base_delay=0.001, max_delay=0.01, max_retry_after=5.0)


@pytest.fixture
def make_client(stub: StubServer) -> Callable[..., MoveClient]:
    clients: list[MoveClient] = []

    def make(**kw: Any) -> MoveClient:
        kw.setdefault("retry", fast_retry())
        kw.setdefault("timeout", (2.0, 5.0))
        client = MoveClient(kw.pop("api_key", API_KEY), endpoint=stub.url("/graphql"), **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None):
    return status, headers or {}, json.dumps(body).encode()


class SchemaExecutor:
    """A GraphQL handler for the stub: executes each request against upstream's schema.

    ``root`` maps root field names to values or callables ``(info, **args) -> value``. Every executed request
    is kept in ``calls`` as (operationName, variables, errors).
    """

    def __init__(self, schema: GraphQLSchema, root: dict[str, Any]) -> None:
        # upstream declares @defer, which graphql-core only executes with experimental features enabled
        self.schema = GraphQLSchema(
            query=schema.query_type, mutation=schema.mutation_type, types=list(schema.type_map.values()),
            directives=[d for d in schema.directives if d.name not in ("defer", "stream")],
        )
        self.root = root
        self.calls: list[tuple[str, dict[str, Any], list[Any]]] = []

    def __call__(self, payload: dict[str, Any], headers: dict[str, str]):
        result = graphql_sync(
            self.schema, payload["query"], root_value=self.root,
            variable_values=payload.get("variables"), operation_name=payload.get("operationName"),
        )
        errors = [e.formatted for e in result.errors or []]
        self.calls.append((payload.get("operationName", ""), payload.get("variables") or {}, errors))
        body: dict[str, Any] = {"data": result.data}
        if errors:
            body["errors"] = errors
        return json_answer(body)


def deep(value: Any) -> Any:
    return copy.deepcopy(value)
