"""``python -m alliance_funding``: serve the funding API (and its consumers) under uvicorn."""

from __future__ import annotations

import uvicorn

from alliance_funding.app import build_app
from alliance_funding.settings import Settings
from alliance_shared.logging import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(build_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
