"""Container HEALTHCHECK: GET /healthz on the service's own port (slim images have no curl).

The port is read from ``<SERVICE>_HTTP_PORT`` (the console: ``CONSOLE_PORT``) so a port
overridden at run time is still probed.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    service = os.environ["ALLIANCE_SERVICE"]
    prefix = service.upper()
    port = os.environ.get(f"{prefix}_HTTP_PORT") or os.environ[f"{prefix}_PORT"]
    # An HTTP(S)_PROXY in the container's environment must not intercept a loopback probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
