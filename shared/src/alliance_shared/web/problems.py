"""RFC 9457 problem details for every error the API can answer.

Every problem has a machine-readable ``code`` (stable, documented) next to the
standard members; validation problems list each failing field. ``title`` and ``detail``
are in the reader's language: ``Accept-Language`` picks zh-CN or en (zh-CN, the
alliance's working language, when it names neither), ``Content-Language`` says which
was used, and the texts come from ``problem_texts.py``; the ``code`` never changes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import OperationFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from alliance_shared.errors import DomainError
from alliance_shared.logging import get_logger
from alliance_shared.persistence.mongo import TRANSIENT_DB_ERRORS, is_busy
from alliance_shared.web.problem_texts import PROBLEM_TEXTS, localize, negotiate

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://coopalliance.org/problems/"

log = get_logger(__name__)


class ProblemError(Exception):
    """Raise from a route to answer with a specific problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.headers = headers
        self.extensions = extensions


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    language = negotiate(request.headers.get("accept-language"))
    shown_title, shown_detail = localize(code, status, detail, language)
    if title is not None and code not in PROBLEM_TEXTS and language == "en":
        shown_title = title  # a caller's own (English) title of a code the catalog lacks
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code.replace(".", "/"),
        "title": shown_title,
        "status": status,
        "detail": shown_detail,
        "instance": request.url.path,
        "code": code,
        **extensions,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    language_headers = {"Content-Language": language, "Vary": "Accept-Language"}
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers={**(headers or {}), **language_headers}
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem(
            request, exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers, **exc.extensions
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(request, exc.status, exc.code, exc.detail, title=exc.title, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem(request, 422, "request.invalid", "the request does not match the schema", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "route.not_found", 405: "route.method_not_allowed", 413: "request.too_large"}.get(
            exc.status_code, "http.error"
        )
        return problem(request, exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))

    for error_type in TRANSIENT_DB_ERRORS:
        app.add_exception_handler(error_type, _unavailable)

    @app.exception_handler(OperationFailure)
    async def _database_refused(request: Request, exc: OperationFailure) -> JSONResponse:
        if is_busy(exc):
            return await _unavailable(request, exc)
        log.exception("database refused an operation", path=request.url.path)
        return problem(request, 500, "internal.error", "an unexpected error occurred; it has been logged")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem(request, 500, "internal.error", "an unexpected error occurred; it has been logged")


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("dependency unavailable", error=repr(exc))
    return problem(
        request,
        503,
        "dependency.unavailable",
        "the database is unreachable or busy; retry shortly",
        headers={"Retry-After": "2"},
    )
