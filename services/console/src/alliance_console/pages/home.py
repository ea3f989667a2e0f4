"""Home: the person's pages, one click away."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from alliance_console.web import render, require

router = APIRouter()


@router.get("/", include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    require(request)
    return render(request, "home.html")
