"""``python -m alliance_console``: serve the console on its public and ops ports."""

from __future__ import annotations

import asyncio

from alliance_console.app import create_app
from alliance_console.settings import ConsoleSettings
from alliance_shared.logging import configure_logging
from alliance_shared.web.ops import ServiceServers


def main() -> None:
    settings = ConsoleSettings()
    configure_logging("console", settings.log_level)
    servers = ServiceServers(create_app(settings), host=settings.host, port=settings.port, ops_port=settings.ops_port)
    asyncio.run(servers.serve())


if __name__ == "__main__":
    main()
