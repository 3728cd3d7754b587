"""Contract (b): every type, field, argument and enum value of the local SDL agrees with upstream, and the
engine's introspection answer as a whole equals upstream's for every type the engine declares.

Upstream is Move's production introspection (../shared/move_api/introspection.json, or $MOVE_API_DIR).
What may differ (decided, and written in local_engine/README.md):
- descriptions (ours are our own words);
- ``interfaces`` of an interface type: ``[]`` here (graphql-core follows the 2021 spec, where interfaces may
  implement interfaces), ``null`` in AppSync's older answer; clients read both as "none";
- the introspection meta types (``__Type``, ``__Directive``, ...), which belong to the GraphQL implementation.
Everything else must be equal: kinds, fields, field types with their nullability and list wrappers, arguments,
default values, enum values, deprecations, union members, input fields, and the directive set.
"""

from __future__ import annotations

import json
from typing import Any

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
    execute_sync,
    get_introspection_query,
    parse,
)

from local_engine.schema import SCHEMA_PATH
from local_engine.schema import build_schema as build_engine_schema
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
                 "upsertWebhookEndpoint", "updateClient", "updateFile", "updateTake"}
    assert queries <= set(local.query_type.fields)
    assert mutations <= set(local.mutation_type.fields)


def test_checker_notices_a_disagreement(upstream):
    """The comparison above is not vacuous: a wrong wrapper is caught."""
    bad = build_schema("type Query { getJob(jobId: ID): Job! }  type Job { id: ID! }")
    assert str(bad.query_type.fields["getJob"].args["jobId"].type) != str(
        upstream.query_type.fields["getJob"].args["jobId"].type
    )


# -- the introspection answer as a whole -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def upstream_introspection() -> dict[str, Any]:
    data = json.loads(require_move_api("introspection.json").read_text())
    return data.get("data", data)["__schema"]


@pytest.fixture(scope="module")
def engine_introspection() -> dict[str, Any]:
    """What the running engine answers to the standard introspection query (the schema it serves, not the SDL)."""
    result = execute_sync(build_engine_schema(), parse(get_introspection_query()))
    assert result.errors is None, result.errors
    return result.data["__schema"]


def _normal(node: Any) -> Any:
    """Descriptions dropped and every list sorted, so that only meaning is compared."""
    if isinstance(node, dict):
        return {k: _normal(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return sorted((_normal(v) for v in node), key=lambda v: json.dumps(v, sort_keys=True))
    return node


def _type_differences(mine: dict[str, Any], theirs: dict[str, Any] | None) -> list[str]:
    if theirs is None:
        return [f"type {mine['name']} does not exist upstream"]
    a, b = _normal(mine), _normal(theirs)
    if a["kind"] == "INTERFACE" and a.get("interfaces") == [] and b.get("interfaces") is None:
        b = {**b, "interfaces": []}
    problems = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        if key in ("fields", "inputFields", "enumValues"):
            mine_by, up_by = ({x["name"]: x for x in side.get(key) or []} for side in (a, b))
            for name in sorted(set(mine_by) | set(up_by)):
                if mine_by.get(name) != up_by.get(name):
                    problems.append(f"{a['name']}.{name}: {json.dumps(mine_by.get(name))} != upstream "
                                    f"{json.dumps(up_by.get(name))}")
        else:
            problems.append(f"{a['name']} {key}: {json.dumps(a.get(key))} != upstream {json.dumps(b.get(key))}")
    return problems


def test_introspection_equals_upstream_for_every_type_the_engine_declares(engine_introspection,
                                                                         upstream_introspection):
    up = {t["name"]: t for t in upstream_introspection["types"]}
    problems = [p for t in engine_introspection["types"] if not t["name"].startswith("__")
                for p in _type_differences(t, up.get(t["name"]))]
    for root in ("queryType", "mutationType", "subscriptionType"):
        names = [(side[root] or {}).get("name") for side in (engine_introspection, upstream_introspection)]
        if names[0] != names[1]:
            problems.append(f"{root}: {engine_introspection[root]} != upstream {upstream_introspection[root]}")
    assert not problems, "\n".join(problems)


def test_directives_equal_upstreams(engine_introspection, upstream_introspection):
    """AppSync's directive set, nothing more (graphql-core 3.2 clients such as Move's SDK refuse @oneOf or
    @deprecated on DIRECTIVE_DEFINITION), with the same locations, arguments and defaults."""
    mine = {d["name"]: _normal(d) for d in engine_introspection["directives"]}
    theirs = {d["name"]: _normal(d) for d in upstream_introspection["directives"]}
    assert sorted(mine) == sorted(theirs)
    for name in theirs:
        assert mine[name] == theirs[name], name


def test_introspection_checker_notices_a_disagreement(engine_introspection, upstream_introspection):
    """The whole-answer comparison is not vacuous: a nullability change, a missing field, a changed default
    and an extra directive location are each reported."""
    up = {t["name"]: t for t in upstream_introspection["types"]}
    job = json.loads(json.dumps(next(t for t in engine_introspection["types"] if t["name"] == "Job")))
    client_field = next(f for f in job["fields"] if f["name"] == "client")
    client_field["type"] = client_field["type"]["ofType"]  # Client! -> Client
    assert any("Job.client" in p for p in _type_differences(job, up["Job"]))
    job["fields"] = [f for f in job["fields"] if f["name"] != "take"]
    assert any("Job.take" in p for p in _type_differences(job, up["Job"]))
    assert _type_differences(next(t for t in engine_introspection["types"] if t["name"] == "Rig"), up["Rig"]) == []
    deprecated = next(d for d in upstream_introspection["directives"] if d["name"] == "deprecated")
    widened = {**deprecated, "locations": [*deprecated["locations"], "DIRECTIVE_DEFINITION"]}
    assert _normal(widened) != _normal(deprecated)
