"""Bounds on what one GraphQL request may cost the engine, checked before the standard validation runs.

:func:`prepare` turns a request body into ``(body, document)`` or a :class:`RequestRefused`: JSON decoding
(deep nesting refused), the document's size, its token count (graphql-core's ``max_tokens``), then
:class:`QueryLimitsRule` (selection depth, fields counted through fragments, aliases). It is CPU work meant
for a worker thread, never the asyncio loop, and does no I/O. The limits leave room for every query the add-on,
Move's SDK and the standard introspection query send (all well under a tenth of each).
"""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    parse,
    validate,
)

MAX_BODY_BYTES = 1024 * 1024  # the whole HTTP body: document plus variables
MAX_DOCUMENT_CHARS = 100_000
MAX_TOKENS = 10_000
MAX_DEPTH = 15  # the standard introspection query needs 13
MAX_FIELDS = 2_000  # field selections, fragments expanded
MAX_ALIASES = 100


class RequestRefused(Exception):
    """The body is not a GraphQL request the engine will look at; ``status`` and an AppSync-style type."""

    def __init__(self, message: str, status: int = 400, error_type: str = "MalformedHttpRequestException") -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class _Exceeded(Exception):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"Query too {what}: more than {limit} (a limit of this server); split it into smaller "
                         "queries.")


class QueryLimitsRule(ValidationRule):
    """Depth, field and alias limits per operation, fragments expanded (each fragment measured once, so a
    fragment that spreads another many times costs arithmetic, not work)."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._fragments = {d.name.value: d for d in context.document.definitions
                           if isinstance(d, FragmentDefinitionNode)}
        self._memo: dict[str, tuple[int, int, int]] = {}

    def _measure(self, selection_set: SelectionSetNode | None, visiting: frozenset[str]) -> tuple[int, int, int]:
        """(depth, fields, aliases) of a selection set; a fragment cycle counts as nothing (NoFragmentCycles
        reports it). Raises _Exceeded as soon as a limit is passed."""
        depth = fields = aliases = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                d, f, a = self._measure(sel.selection_set, visiting)
                d, f, a = d + 1, f + 1, a + (sel.alias is not None)
            elif isinstance(sel, InlineFragmentNode):
                d, f, a = self._measure(sel.selection_set, visiting)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self._fragments.get(name)
                if frag is None or name in visiting:
                    continue
                if name not in self._memo:
                    self._memo[name] = self._measure(frag.selection_set, visiting | {name})
                d, f, a = self._memo[name]
            else:
                continue
            depth, fields, aliases = max(depth, d), fields + f, aliases + a
            if depth > MAX_DEPTH:
                raise _Exceeded("deep", MAX_DEPTH)
            if fields > MAX_FIELDS:
                raise _Exceeded("many fields", MAX_FIELDS)
            if aliases > MAX_ALIASES:
                raise _Exceeded("many aliases", MAX_ALIASES)
        return depth, fields, aliases

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        try:
            self._measure(node.selection_set, frozenset())
        except _Exceeded as exc:
            self.report_error(GraphQLError(str(exc), node))


def _no_constants(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


def load_json(raw: bytes | str) -> Any:
    """json.loads that answers ValueError, never RecursionError, for absurdly nested input."""
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def prepare(schema: GraphQLSchema, raw: bytes) -> tuple[dict[str, Any], DocumentNode | list[GraphQLError]]:
    """``(body, document)``, or ``(body, errors)`` when the document breaks a limit or does not parse (answered
    as GraphQL errors); raises RequestRefused when the body is not a GraphQL request at all."""
    if len(raw) > MAX_BODY_BYTES:
        raise RequestRefused(f"Request body over {MAX_BODY_BYTES} bytes", 413, "PayloadTooLarge")
    try:
        body = load_json(raw)
    except ValueError as exc:
        raise RequestRefused(f"The body is not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise RequestRefused("a JSON object with a 'query' string is required")
    query = body["query"]
    if len(query) > MAX_DOCUMENT_CHARS:
        return body, [GraphQLError(f"Query document over {MAX_DOCUMENT_CHARS} characters (a limit of this "
                                   "server); split it into smaller queries.")]
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as exc:
        return body, [exc]
    errors = validate(schema, document, [QueryLimitsRule])
    return (body, list(errors)) if errors else (body, document)


def operation_name(body: dict[str, Any], document: DocumentNode | list[GraphQLError]) -> str | None:
    """The first root field of the operation (what fault rules match on), else ``operationName``."""
    if isinstance(document, DocumentNode):
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.selection_set.selections:
                first = definition.selection_set.selections[0]
                if isinstance(first, FieldNode):
                    return first.name.value
    name = body.get("operationName")
    return name if isinstance(name, str) else None
