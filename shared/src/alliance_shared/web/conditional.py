"""ETag / If-Match for optimistic concurrency on updates (RFC 9110 §13)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from alliance_shared.web.problems import ProblemError


def etag_of(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_of(version)


def expected_version(request: Request) -> int:
    """The version the client last saw, from If-Match; 428 without it, 412 if malformed."""
    header = request.headers.get("if-match")
    if header is None:
        raise ProblemError(
            428,
            "precondition.if_match_required",
            "send If-Match with the ETag you read, so a concurrent change is not overwritten",
        )
    tag = header.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise ProblemError(412, "precondition.bad_etag", f"If-Match {header!r} is not an ETag of this API")
    return int(tag)


def optional_version(request: Request) -> int | None:
    """If-Match when given (412 unless it names the current version), else None: act on the current version."""
    return None if request.headers.get("if-match") is None else expected_version(request)


#: A route parameter: the version from If-Match, which the request requires.
IfMatch = Annotated[int, Depends(expected_version)]
#: A route parameter: the version from If-Match when sent.
OptionalIfMatch = Annotated[int | None, Depends(optional_version)]
