"""``python -m alliance_evaluation``: serve the evaluation API (and its consumers) on its public and ops ports."""

from __future__ import annotations

from alliance_evaluation.app import build_app
from alliance_evaluation.settings import Settings
from alliance_shared.logging import configure_logging
from alliance_shared.web.ops import serve


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
