"""The local stack against its real servers: Kafka, the MongoDB-wire server and the SMTP sink.

One stack is started for the whole module (on free ports, in a tmp folder); the tests
that stop or restart a server bring it back before they finish.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import MongoClient

from alliance_devstack import cli
from alliance_devstack.components import HOST, SmtpSink, accepts_connections, free_port
from alliance_devstack.errors import PortTaken, StackError
from alliance_devstack.provision import provision_infrastructure
from alliance_devstack.smtp_sink import read_mailbox
from alliance_devstack.stack import SERVICE_PREFIXES, Stack
from alliance_shared.messaging.kafka import KafkaAccess


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack.start(tmp_path_factory.mktemp("devstack")) as started:
        yield started
    assert not any(c.running() for c in started.components)


def mongo_client(url: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(url)


async def create_topic(kafka: KafkaAccess, name: str) -> None:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()


async def topics(kafka: KafkaAccess) -> list[str]:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def round_trip(kafka: KafkaAccess, topic: str, value: bytes) -> bytes:
    """Produce one record (idempotent producer) and read it back through a consumer group."""
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, **kafka.options(), group_id=f"g-{uuid.uuid4().hex}", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await consumer.getone()
        assert record.value is not None
        return bytes(record.value)
    finally:
        await consumer.stop()


def test_the_stack_is_healthy_and_its_env_names_every_server(stack: Stack) -> None:
    assert all(c.running() and c.is_healthy() for c in stack.components)
    env = stack.env()
    for prefix in SERVICE_PREFIXES:
        assert env[f"{prefix}KAFKA_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{stack.kafka.port}"
        assert env[f"{prefix}KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env[f"{prefix}KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env[f"{prefix}KAFKA_SASL_USERNAME"] == "alliance-" + prefix.removesuffix("_").lower()
        assert env[f"{prefix}MONGO_URL"] == f"mongodb://127.0.0.1:{stack.mongo.port}/"
    assert (env["NOTIFICATIONS_SMTP_HOST"], env["NOTIFICATIONS_SMTP_PORT"]) == (HOST, str(stack.smtp.port))
    assert len({stack.kafka.port, stack.kafka.controller_port, stack.mongo.port, stack.smtp.port}) == 4


async def test_kafka_takes_a_topic_and_round_trips_a_record(stack: Stack) -> None:
    topic = f"devstack-{uuid.uuid4().hex[:8]}"
    await create_topic(stack.kafka.admin_access, topic)
    assert await round_trip(stack.kafka.admin_access, topic, "拨付 #1".encode()) == "拨付 #1".encode()


def test_mongo_restart_keeps_its_data_and_its_port(stack: Stack) -> None:
    port, debug_port = stack.mongo.port, stack.mongo.debug_port
    assert debug_port != port
    with mongo_client(stack.mongo.url) as client:
        client.devstack.partners.insert_one({"_id": "p-1", "name": "合作学院"})
        assert client.devstack.partners.find_one({"_id": "p-1"}) == {"_id": "p-1", "name": "合作学院"}
    for _ in range(3):  # every port is chosen once per stack: a restart never meets its own freed port
        stack.mongo.restart()
    assert (stack.mongo.port, stack.mongo.debug_port) == (port, debug_port)
    with mongo_client(stack.mongo.url) as client:
        assert client.devstack.partners.find_one({"_id": "p-1"}) == {"_id": "p-1", "name": "合作学院"}


def test_a_killed_mongo_comes_back_with_its_data(stack: Stack) -> None:
    with mongo_client(stack.mongo.url) as client:
        client.devstack.ledger.insert_one({"_id": "e-1", "amount": 12_000_000})
    stack.mongo.kill()
    assert not stack.mongo.running()
    assert not stack.mongo.is_healthy()
    stack.mongo.start()
    with mongo_client(stack.mongo.url) as client:
        assert client.devstack.ledger.find_one({"_id": "e-1"}) == {"_id": "e-1", "amount": 12_000_000}


async def test_kafka_stop_then_start_keeps_topics_and_records(stack: Stack) -> None:
    topic = f"kept-{uuid.uuid4().hex[:8]}"
    await create_topic(stack.kafka.admin_access, topic)
    stack.kafka.stop()
    assert not stack.kafka.running()
    assert not accepts_connections(stack.kafka.port)
    stack.kafka.start()
    assert topic in await topics(stack.kafka.admin_access)
    assert await round_trip(stack.kafka.admin_access, topic, b"after restart") == b"after restart"


def test_the_smtp_sink_files_a_chinese_mail_and_read_mailbox_decodes_it(stack: Stack) -> None:
    message = EmailMessage()
    message["From"] = "noreply@coopalliance.local"
    message["To"] = "contact@college.example"
    message["Subject"] = "资金拨付已批准"
    message["Message-ID"] = "<m-1@coopalliance.local>"
    message.set_content("第二笔资金 ¥120,000.00 已批准。")
    with smtplib.SMTP(HOST, stack.smtp.port, timeout=10) as client:
        client.send_message(message)
    [mail] = [m for m in read_mailbox(stack.smtp.maildir) if m.message_id == "<m-1@coopalliance.local>"]
    assert mail.subject == "资金拨付已批准"
    assert mail.sender == "noreply@coopalliance.local"
    assert mail.recipients == ["contact@college.example"]
    assert "第二笔资金 ¥120,000.00 已批准。" in mail.body
    # On the wire the subject is an RFC 2047 encoded word: read_mailbox is what decodes it.
    assert b"Subject: =?utf-8?" in mail.file.read_bytes()
    assert mail.received_at.tzinfo is not None


def test_a_port_held_by_another_program_is_a_clear_error(tmp_path: Path, stack: Stack) -> None:
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        sink = SmtpSink(tmp_path / "smtp", port)
        with pytest.raises(PortTaken, match=rf"smtp port 127\.0\.0\.1:{port} already in use by another program"):
            sink.start()
        assert not sink.running()
    # The running stack's own port counts as taken for a second stack too.
    with pytest.raises(PortTaken, match=rf"kafka port 127\.0\.0\.1:{stack.kafka.port}"):
        Stack.start(tmp_path / "second", kafka_port=stack.kafka.port)


class _CrashingSink(SmtpSink):
    def _command(self) -> list[str]:
        return [sys.executable, "-c", "import sys; print('cannot open the mail folder'); sys.exit(3)"]


class _SilentSink(SmtpSink):
    def _command(self) -> list[str]:
        return [sys.executable, "-c", "import time; print('still thinking', flush=True); time.sleep(60)"]


def test_a_server_that_exits_while_starting_fails_with_its_log_tail(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"(?s)smtp exited \(code 3\) while starting.*cannot open the mail folder"):
        _CrashingSink(tmp_path / "crash").start()


def test_a_server_that_never_gets_healthy_times_out_with_its_log_tail_and_is_killed(tmp_path: Path) -> None:
    sink = _SilentSink(tmp_path / "silent")
    with pytest.raises(StackError, match=r"(?s)smtp was not healthy after 1s.*still thinking"):
        sink.start(timeout_s=1)
    assert sink.pid is None
    assert not sink.running()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(argv))
    code = exit_info.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().out


def test_the_cli_sees_a_recorded_stack_from_another_shell(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.save_state()
    data_dir = str(stack.data_dir)
    try:
        code, out = run_cli(capsys, "dev", "--data-dir", data_dir, "status")
        assert code == 0
        assert out.count("healthy") == 3
        assert stack.mongo.url in out
        assert stack.smtp.url in out

        code, out = run_cli(capsys, "dev", "--data-dir", data_dir, "up", "--kafka-port", str(stack.kafka.port))
        assert (code, out.splitlines()[0]) == (0, "the local stack is already running:")

        code, out = run_cli(capsys, "dev", "--data-dir", data_dir, "env")
        assert code == 0
        assert f"export FUNDING_MONGO_URL={stack.mongo.url}" in out.splitlines()
        assert f"export NOTIFICATIONS_SMTP_PORT={stack.smtp.port}" in out.splitlines()

        code, out = run_cli(capsys, "dev", "--data-dir", data_dir, "logs", "kafka", "-n", "200")
        assert code == 0
        assert "Kafka Server started" in out

        # Onboarding a college: its principal and topic; the password is printed only when asked.
        code, out = run_cli(capsys, "dev", "--data-dir", data_dir, "college", "col-cli-1")
        college = stack.kafka.security_admin().principal("college-col-cli-1")
        assert code == 0
        assert "sasl.username=college-col-cli-1" in [line.strip() for line in out.splitlines()]
        assert "may write alliance.college.col-cli-1.reports and nothing else" in out
        assert college.password is not None
        assert college.password not in out
        code, out = run_cli(capsys, "dev", "--data-dir", data_dir, "college", "col-cli-1", "--show-password")
        assert f"sasl.password={college.password}" in [line.strip() for line in out.splitlines()]
        assert "alliance.college.col-cli-1.reports" in asyncio.run(topics(stack.kafka.admin_access))
        code, out = run_cli(capsys, "dev", "--data-dir", data_dir, "college", "Not_A_Label")
        assert code == 1
    finally:
        stack.forget_state()
    code, out = run_cli(capsys, "dev", "--data-dir", data_dir, "status")
    assert (code, out.strip()) == (1, "the local stack is not running (start it with: alliance dev up)")


def test_urls_in_the_environment_are_used_as_they_are(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLIANCE_TEST_KAFKA_BOOTSTRAP", stack.kafka.bootstrap_servers)
    monkeypatch.setenv("ALLIANCE_TEST_MONGO_URL", stack.mongo.url)
    admin = stack.kafka.admin_access
    monkeypatch.setenv("ALLIANCE_TEST_KAFKA_ADMIN_USERNAME", admin.username or "")
    monkeypatch.setenv("ALLIANCE_TEST_KAFKA_ADMIN_PASSWORD", admin.password or "")
    with provision_infrastructure(tmp_path) as infra:
        assert (infra.kind, infra.kafka_bootstrap, infra.mongo_url) == ("env", stack.kafka.url, stack.mongo.url)
        assert infra.kafka_admin == admin
        assert infra.kafka_security is not None
        assert (infra.kafka, infra.mongo, infra.smtp_sink) == (None, None, None)
        # A sink of its own comes along, since the environment names no SMTP server.
        assert infra.smtp.maildir is not None
        with smtplib.SMTP(infra.smtp.host, infra.smtp.port, timeout=10) as client:
            client.sendmail("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nhello\r\n")
        assert [m.subject for m in read_mailbox(infra.smtp.maildir)] == ["hi"]
    assert not accepts_connections(infra.smtp.port)
    assert all(c.running() for c in stack.components)


def test_half_given_urls_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLIANCE_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    monkeypatch.delenv("ALLIANCE_TEST_MONGO_URL", raising=False)
    with pytest.raises(StackError, match="both"), provision_infrastructure(tmp_path):
        pass


def test_servers_stop_when_the_process_that_started_them_is_killed(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from alliance_devstack.components import SmtpSink\n"
            "sink = SmtpSink(Path(sys.argv[1]))\n"
            "sink.start()\n"
            "print(sink.port, flush=True)\n"
            "time.sleep(120)\n",
            str(tmp_path / "smtp"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert starter.stdout is not None
        port = int(starter.stdout.readline())
        assert accepts_connections(port)
    finally:
        starter.kill()
        starter.wait()
    deadline = time.monotonic() + 15
    while accepts_connections(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not accepts_connections(port)


def alliance(*argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a developer runs it: each command its own process."""
    return subprocess.run(
        [sys.executable, "-m", "alliance_devstack.cli", *argv], capture_output=True, text=True, timeout=180, check=False
    )


def test_dev_up_leaves_a_detached_stack_that_status_and_down_find(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "devstack")
    ports = [str(free_port()) for _ in range(3)]
    up = alliance(
        "dev", "--data-dir", data_dir, "up", "--kafka-port", ports[0], "--mongo-port", ports[1], "--smtp-port", ports[2]
    )
    try:
        assert up.returncode == 0, up.stderr
        status = alliance("dev", "--data-dir", data_dir, "status")
        assert (status.returncode, status.stdout.count("healthy")) == (0, 3)

        clash = alliance("dev", "--data-dir", str(tmp_path / "other"), "up", "--mongo-port", ports[1])
        assert clash.returncode == 1
        assert f"mongodb port 127.0.0.1:{ports[1]} already in use by another program" in clash.stderr
        assert "--mongo-port" in clash.stderr
    finally:
        down = alliance("dev", "--data-dir", data_dir, "down")
    assert down.returncode == 0, down.stderr
    assert not any(accepts_connections(int(port)) for port in ports)
    assert alliance("dev", "--data-dir", data_dir, "status").returncode == 1
