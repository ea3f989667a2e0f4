"""What the routes are given, from the app state the composition root fills:
``repos`` (the typed stores), ``clock`` and ``settings``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from alliance_funding.service.ports import Repositories
from alliance_funding.settings import Settings
from alliance_shared.clock import Clock


def repositories(request: Request) -> Repositories:
    repos: Repositories = request.app.state.repos
    return repos


def clock(request: Request) -> Clock:
    current: Clock = request.app.state.clock
    return current


def settings(request: Request) -> Settings:
    configured: Settings = request.app.state.settings
    return configured


Repos = Annotated[Repositories, Depends(repositories)]
Now = Annotated[Clock, Depends(clock)]
Config = Annotated[Settings, Depends(settings)]
