"""The local stack's own behaviour: the SMTP sink, port clashes, restarts keep data."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
from pymongo import MongoClient

from alliance_devstack.components import HOST, MongoWireServer, SmtpSink
from alliance_devstack.errors import StackError
from alliance_devstack.smtp_sink import read_mailbox


def test_smtp_sink_files_a_chinese_mail_and_reads_it_back(tmp_path: Path) -> None:
    sink = SmtpSink(tmp_path / "smtp", 0)
    sink.start()
    try:
        message = EmailMessage()
        message["From"] = "noreply@coopalliance.local"
        message["To"] = "contact@college.example"
        message["Subject"] = "资金拨付已批准"
        message.set_content("第二笔资金 ¥120,000.00 已批准。")
        with smtplib.SMTP(HOST, sink.port, timeout=10) as client:
            client.send_message(message)
        mails = read_mailbox(sink.maildir)
        assert [m.subject for m in mails] == ["资金拨付已批准"]
        assert mails[0].recipients == ["contact@college.example"]
        assert "¥120,000.00" in mails[0].body
    finally:
        sink.stop()


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        sink = SmtpSink(tmp_path / "smtp", squatter.getsockname()[1])
        with pytest.raises(StackError, match="already taken"):
            sink.start()


def test_mongo_wire_server_restart_keeps_port_and_data(tmp_path: Path) -> None:
    server = MongoWireServer(tmp_path / "mongo", 0)
    server.start()
    try:
        port = server.port
        with MongoClient(server.url) as client:
            client.db.things.insert_one({"_id": "kept"})
        server.restart()
        assert server.port == port
        with MongoClient(server.url) as client:
            assert client.db.things.find_one({"_id": "kept"}) == {"_id": "kept"}
    finally:
        server.stop()
    assert not server.running()
