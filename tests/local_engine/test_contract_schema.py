"""Contract (b): every type, field, argument and enum value of the local SDL agrees with upstream.

Upstream is Move's production introspection (../shared/move_api/introspection.json, or $MOVE_API_DIR).
"""

from __future__ import annotations

import json

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    build_client_schema,
    build_schema,
)

from local_engine.schema import SCHEMA_PATH
from tests.conftest import require_move_api


@pytest.fixture(scope="module")
def upstream():
    path = require_move_api("introspection.json")
    data = json.loads(path.read_text())
    return build_client_schema(data.get("data", data))


@pytest.fixture(scope="module")
def local():
    return build_schema(SCHEMA_PATH.read_text())


def _user_types(schema):
    return {n: t for n, t in schema.type_map.items() if not n.startswith("__")}


def test_local_schema_is_a_subset_of_upstream(local, upstream):
    up = _user_types(upstream)
    problems: list[str] = []
    for name, t in _user_types(local).items():
        u = up.get(name)
        if u is None:
            problems.append(f"type {name} does not exist upstream")
            continue
        if type(t) is not type(u):
            problems.append(f"{name}: kind {type(t).__name__} != upstream {type(u).__name__}")
            continue
        if isinstance(t, GraphQLEnumType):
            extra = set(t.values) - set(u.values)
            if extra:
                problems.append(f"enum {name}: values {sorted(extra)} not upstream")
        elif isinstance(t, GraphQLUnionType):
            if {m.name for m in t.types} != {m.name for m in u.types}:
                problems.append(f"union {name}: members differ")
        elif isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            if {i.name for i in t.interfaces} != {i.name for i in u.interfaces}:
                problems.append(f"{name}: interfaces {[i.name for i in t.interfaces]} differ from upstream")
            for fname, f in t.fields.items():
                uf = u.fields.get(fname)
                if uf is None:
                    problems.append(f"{name}.{fname} does not exist upstream")
                    continue
                if str(f.type) != str(uf.type):
                    problems.append(f"{name}.{fname}: {f.type} != upstream {uf.type}")
                for aname, a in f.args.items():
                    ua = uf.args.get(aname)
                    if ua is None:
                        problems.append(f"{name}.{fname}({aname}) does not exist upstream")
                    elif str(a.type) != str(ua.type):
                        problems.append(f"{name}.{fname}({aname}): {a.type} != upstream {ua.type}")
                # An argument that upstream requires must be declared here too.
                for aname, ua in uf.args.items():
                    if aname not in f.args and str(ua.type).endswith("!"):
                        problems.append(f"{name}.{fname}: required upstream argument {aname} missing")
        elif isinstance(t, GraphQLInputObjectType):
            for fname, f in t.fields.items():
                uf = u.fields.get(fname)
                if uf is None:
                    problems.append(f"input {name}.{fname} does not exist upstream")
                elif str(f.type) != str(uf.type):
                    problems.append(f"input {name}.{fname}: {f.type} != upstream {uf.type}")
            for fname, uf in u.fields.items():
                if fname not in t.fields and str(uf.type).endswith("!"):
                    problems.append(f"input {name}: required upstream field {fname} missing")
        else:
            assert isinstance(t, GraphQLScalarType)
    assert not problems, "\n".join(problems)


def test_operations_the_server_must_serve_are_declared(local):
    queries = {"client", "getFile", "getTake", "getJob", "listTakes", "listJobs", "listRigs",
               "listCameraSettings", "getVolume", "listVolumes"}
    mutations = {"createFile", "createSingleCamTake", "createMultiCamTake", "createSingleCamJob",
                 "createMultiCamJob", "updateJob", "createVolumeWithHuman", "generateShareCode",
                 "upsertWebhookEndpoint"}
    assert queries <= set(local.query_type.fields)
    assert mutations <= set(local.mutation_type.fields)


def test_checker_notices_a_disagreement(upstream):
    """The comparison above is not vacuous: a wrong wrapper is caught."""
    bad = build_schema("type Query { getJob(jobId: ID): Job! }  type Job { id: ID! }")
    assert str(bad.query_type.fields["getJob"].args["jobId"].type) != str(
        upstream.query_type.fields["getJob"].args["jobId"].type
    )
