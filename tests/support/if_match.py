"""Which routes of an app take If-Match: read from its OpenAPI document, where the shared
``IfMatch`` / ``OptionalIfMatch`` dependencies declare the header."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from hypothesis import strategies as st

Route = tuple[str, str]

#: (kind, n): the current version, n versions older (0 at the least), n newer, or a tag that is no version.
VERSIONS = st.one_of(
    st.just(("current", 0)),
    st.tuples(st.just("stale"), st.integers(1, 3)),
    st.tuples(st.just("future"), st.integers(1, 10**9)),
    st.tuples(st.just("malformed"), st.sampled_from(["", "*", '"abc"', '"-1"', '"1.0"', "1, 2", 'W/"x"'])),
)


def if_match(current: str, kind: str, n: Any) -> str:
    """The If-Match value to send for a drawn (kind, n), given the resource's current ETag."""
    version = int(current.strip('"'))
    if kind == "current":
        return current
    if kind == "stale":
        return f'"{max(0, version - n)}"'
    if kind == "future":
        return f'"{version + n}"'
    return str(n)


def if_match_routes(app: FastAPI) -> set[Route]:
    """(METHOD, path template) of every operation with an If-Match header parameter."""
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if any(
            p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in operation.get("parameters", [])
        )
    }
