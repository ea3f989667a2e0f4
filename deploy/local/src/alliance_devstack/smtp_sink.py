"""The local SMTP sink: receives mail like a real server and files each message.

Each message is stored as ``<n>.eml`` and summarised in ``index.jsonl`` so tests, the
demo and a developer can see exactly what the platform sent.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    file: Path
    sender: str
    recipients: list[str]
    subject: str
    body: str
    received_at: str
    headers: dict[str, str]


class _FilingHandler:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        maildir.mkdir(parents=True, exist_ok=True)
        self._count = len(list(maildir.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self._count += 1
        name = f"{self._count:06d}.eml"
        (self.maildir / name).write_bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        entry = {
            "file": name,
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(message.get("subject", "")),
            "received_at": datetime.now(UTC).isoformat(),
        }
        with (self.maildir / "index.jsonl").open("a", encoding="utf-8") as index:
            index.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return "250 Message accepted for delivery"


def read_mailbox(maildir: Path) -> list[ReceivedMail]:
    index = maildir / "index.jsonl"
    if not index.exists():
        return []
    mails: list[ReceivedMail] = []
    for line in index.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        path = maildir / entry["file"]
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        mails.append(
            ReceivedMail(
                path,
                entry["from"],
                entry["to"],
                entry["subject"],
                body,
                entry["received_at"],
                {k: str(v) for k, v in message.items()},
            )
        )
    return mails


def main() -> None:
    parser = argparse.ArgumentParser(prog="alliance-smtp-sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    controller = Controller(_FilingHandler(args.maildir), hostname=args.host, port=args.port)
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
