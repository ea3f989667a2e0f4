"""Which routes of an app take If-Match: read from its OpenAPI document, where the shared
``IfMatch`` / ``OptionalIfMatch`` dependencies declare the header."""

from __future__ import annotations

from fastapi import FastAPI

Route = tuple[str, str]


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
