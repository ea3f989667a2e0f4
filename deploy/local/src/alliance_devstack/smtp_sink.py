"""The local SMTP sink: receives mail like a real server and files each message.

Each message is stored as ``<n>.eml`` and summarised in ``index.jsonl`` so tests, the
demo and a developer can see exactly what the platform sent.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import json
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    file: Path
    message_id: str
    sender: str
    recipients: list[str]
    subject: str
    body: str
    received_at: datetime
    headers: dict[str, str]


class _FilingHandler:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        maildir.mkdir(parents=True, exist_ok=True)
        self._count = len(list(maildir.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self._count += 1
        name = f"{self._count:06d}.eml"
        raw: bytes = envelope.original_content or envelope.content
        (self.maildir / name).write_bytes(raw)
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        entry = {
            "file": name,
            "message_id": str(message.get("message-id", "")),
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(message.get("subject", "")),
            "received_at": datetime.now(UTC).isoformat(),
        }
        with (self.maildir / "index.jsonl").open("a", encoding="utf-8") as index:
            index.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return "250 Message accepted for delivery"


def read_mailbox(maildir: Path) -> list[ReceivedMail]:
    """Every message the sink has filed in `maildir`, oldest first, headers and body decoded."""
    index = maildir / "index.jsonl"
    if not index.exists():
        return []
    mails: list[ReceivedMail] = []
    for line in index.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        path = maildir / entry["file"]
        message = BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())
        part = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        mails.append(
            ReceivedMail(
                file=path,
                message_id=entry.get("message_id", ""),
                sender=entry["from"],
                recipients=entry["to"],
                subject=entry["subject"],
                body=body,
                received_at=datetime.fromisoformat(entry["received_at"]),
                headers={key: str(value) for key, value in message.items()},
            )
        )
    return mails


def main() -> None:
    parser = argparse.ArgumentParser(prog="alliance-smtp-sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    # SMTPUTF8 so that non-ASCII addresses are accepted as a real server would.
    controller = Controller(_FilingHandler(args.maildir), hostname=args.host, port=args.port, enable_SMTPUTF8=True)
    controller.start()
    print(f"smtp sink on {args.host}:{args.port}, filing into {args.maildir}", flush=True)

    async def wait_for_stop() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait_for_stop())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
