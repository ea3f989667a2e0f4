"""``python -m alliance_console``: serve the console under uvicorn."""

from __future__ import annotations

import uvicorn

from alliance_console.app import create_app
from alliance_console.settings import ConsoleSettings
from alliance_shared.logging import configure_logging


def main() -> None:
    settings = ConsoleSettings()
    configure_logging("console", settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    main()
