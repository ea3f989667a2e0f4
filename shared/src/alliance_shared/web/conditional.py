"""ETag / If-Match for optimistic concurrency on updates (RFC 9110 §13)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Response

from alliance_shared.web.problems import ProblemError


def etag_of(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_of(version)


def parse_if_match(header: str | None) -> int:
    """The version an If-Match header names; 428 without one, 412 if it is not our ETag."""
    if header is None:
        raise ProblemError(
            428,
            "precondition.if_match_required",
            "send If-Match with the ETag you read, so a concurrent change is not overwritten",
        )
    tag = header.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or len(tag) > 18:
        raise ProblemError(412, "precondition.bad_etag", f"If-Match {header[:40]!r} is not an ETag of this API")
    return int(tag)


# Declared as header parameters, so If-Match shows in the OpenAPI document (clients and the
# If-Match property tests find every route that takes it there).
_REQUIRED = Header(alias="If-Match", description="the ETag last read; any other version is 412")
_OPTIONAL = Header(alias="If-Match", description="the ETag last read, if any; any other version is 412")


def _required_if_match(if_match: Annotated[str | None, _REQUIRED] = None) -> int:
    return parse_if_match(if_match)


def _optional_if_match(if_match: Annotated[str | None, _OPTIONAL] = None) -> int | None:
    return None if if_match is None else parse_if_match(if_match)


#: A route parameter: the version from If-Match, which the request requires (428 without).
IfMatch = Annotated[int, Depends(_required_if_match)]
#: A route parameter: the version from If-Match when sent.
OptionalIfMatch = Annotated[int | None, Depends(_optional_if_match)]
