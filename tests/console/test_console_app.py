"""The console in-process, without the stack: sign-in settings, CSRF, language, catalogs."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from alliance_console import i18n
from alliance_console.api import field_error_message
from alliance_console.app import create_app
from alliance_console.settings import ConsoleSettings
from alliance_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]


def client(**settings: object) -> TestClient:
    return TestClient(create_app(ConsoleSettings(cookie_secure=False, session_secret="s" * 32, **settings)))


def test_dev_sign_in_is_refused_unless_the_dev_setting_is_on(tmp_path: Path) -> None:
    off = client()
    assert off.get("/auth/dev").status_code == 404
    assert off.post("/auth/dev", data={"role": "auditor"}).status_code == 404
    on = client(dev_login=True, dev_keys_dir=str(tmp_path))
    page = on.get("/auth/dev")
    assert page.status_code == 200
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed_in = on.post("/auth/dev", data={"role": "auditor", "csrf_token": token}, follow_redirects=False)
    assert signed_in.status_code == 303
    on.cookies.set("console_lang", "en")
    assert "Partners" in on.get("/").text


def test_every_form_needs_the_sessions_csrf_token(tmp_path: Path) -> None:
    on = client(dev_login=True, dev_keys_dir=str(tmp_path))
    on.get("/auth/dev")
    refused = on.post("/auth/dev", data={"role": "auditor", "csrf_token": "forged"})
    assert refused.status_code == 403
    assert on.post("/language", data={"language": "en"}).status_code == 403


def test_pages_need_a_session_and_send_people_to_sign_in() -> None:
    answer = client().get("/funding/programmes", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/login?next=%2Ffunding%2Fprogrammes"


def test_chinese_by_default_english_remembered_in_a_cookie(tmp_path: Path) -> None:
    on = client(dev_login=True, dev_keys_dir=str(tmp_path))
    page = on.get("/auth/dev")
    assert 'lang="zh-CN"' in page.text
    assert "开发环境登录" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    switched = on.post("/language", data={"language": "en", "csrf_token": token, "next": "/auth/dev"},
                       follow_redirects=False)  # fmt: skip
    assert switched.status_code == 303
    assert "console_lang=en" in switched.headers["set-cookie"]
    assert "Development sign-in" in on.get("/auth/dev").text


def test_health_readiness_and_metrics_on_the_ops_port_only() -> None:
    app = create_app(ConsoleSettings(cookie_secure=False, session_secret="s" * 32))
    c, ops = TestClient(app), TestClient(app.state.ops_app)
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").status_code == 200
    assert c.get("/metrics").status_code == 404
    assert c.get("/openapi.json").status_code == 404
    assert ops.get("/readyz").status_code == 200
    assert "console_http_requests_total" in ops.get("/metrics").text


def test_every_message_has_its_chinese_wording() -> None:
    """The zh-CN catalog is regenerated from the sources and nothing is left untranslated."""
    po = ROOT / "services/console/src/alliance_console/locale/zh_CN/LC_MESSAGES/messages.po"
    before = po.read_text()
    done = subprocess.run([sys.executable, str(ROOT / "services/console/tools/zh_cn.py")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    after = po.read_text()
    po.write_text(before)
    assert done.returncode == 0, done.stdout
    strip = [line for line in after.splitlines() if "POT-Creation-Date" not in line]
    assert strip == [line for line in before.splitlines() if "POT-Creation-Date" not in line], (
        "run services/console/tools/zh_cn.py and commit the catalog"
    )


def test_amounts_in_fen_are_shown_and_read_in_yuan_per_locale() -> None:
    from alliance_console import i18n

    i18n.set_language("zh-CN")
    assert i18n.yuan(120000050) == "¥1,200,000.50"
    assert i18n.day("2026-12-03") == "2026年12月3日"
    i18n.set_language("en")
    assert i18n.yuan(120000050) == "CN¥1,200,000.50"
    assert i18n.when("2026-12-03T01:00:00+00:00").startswith("Dec 3, 2026, 9:00:00")  # China time
    assert i18n.fen_from_yuan("1,200.5") == 120050
    assert i18n.fen_from_yuan("¥1200.50") == 120050
    assert i18n.fen_from_yuan("12.345") is None
    assert i18n.fen_from_yuan("abc") is None


def test_only_listed_exports_are_relayed_and_only_to_a_signed_in_person(tmp_path: Path) -> None:
    """The console relays the services' downloads it lists, never an arbitrary service path."""
    stranger = client().get("/downloads/partners.csv", follow_redirects=False)
    assert stranger.status_code == 303
    on = client(dev_login=True, dev_keys_dir=str(tmp_path))
    page = on.get("/auth/dev")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    on.post("/auth/dev", data={"role": "auditor", "csrf_token": token}, follow_redirects=False)
    assert on.get("/downloads/audit-records.csv").status_code == 404
    assert on.get("/downloads/partners.json").status_code == 404
    assert on.get("/downloads/ranking.csv").status_code == 404  # the cycle is part of the path
    assert on.get("/downloads/incentives.csv", follow_redirects=False).status_code != 404


def test_agency_staff_sign_in_with_their_agency_and_see_its_incentive_register(tmp_path: Path) -> None:
    on = client(dev_login=True, dev_keys_dir=str(tmp_path))
    page = on.get("/auth/dev")
    assert 'value="agency_staff"' in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"role": "agency_staff", "partner_id": "gov-0a1b2c3d4e5f", "csrf_token": token}
    assert on.post("/auth/dev", data=form, follow_redirects=False).status_code == 303
    home = on.get("/").text
    assert "gov-0a1b2c3d4e5f" in home
    assert 'href="/incentives"' in home


def test_a_fields_validation_error_is_named_in_the_persons_language() -> None:
    i18n.set_language("zh-CN")
    assert field_error_message("string_too_short", "String should have at least 1 character") == "请填写此项。"
    assert field_error_message("some_new_type", "as the service said") == "as the service said"
    i18n.set_language("en")
    assert field_error_message("missing", "Field required") == "Fill this in."


@contextmanager
def silent_service() -> Iterator[str]:
    """A real TCP port that accepts connections and never answers (a service stuck on its database)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_a_service_that_does_not_answer_in_time_is_a_translated_message_not_an_error(tmp_path: Path) -> None:
    with silent_service() as url:
        on = client(dev_login=True, dev_keys_dir=str(tmp_path), notifications_url=url, service_timeout_s=0.2)
        page = on.get("/auth/dev")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        on.post("/auth/dev", data={"role": "auditor", "csrf_token": token}, follow_redirects=False)
        answer = on.get("/notifications/preferences")
    assert answer.status_code == 504
    assert "服务未能及时响应" in answer.text
    # Longer than a service's database timeout: a slow database reaches the person as the service's answer.
    database_timeout_s = ServiceSettings.model_fields["mongo_operation_timeout_ms"].default / 1000
    assert ConsoleSettings.model_fields["service_timeout_s"].default > database_timeout_s
