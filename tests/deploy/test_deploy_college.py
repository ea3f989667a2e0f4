"""The college-onboarding template renders to a valid KafkaUser with exactly COLLEGE_INTEGRATION's rights."""

from __future__ import annotations

import re
import string
from typing import cast

import pytest
import yaml

from tests.deploy.manifests import K8S_DIR, Manifest
from tests.deploy.policies import check_college_user
from tests.deploy.validation import schema_problems

TEMPLATE = K8S_DIR / "college-onboarding" / "kafkauser.template.yaml"
README = K8S_DIR / "college-onboarding" / "README.md"
COLLEGE_ID = "91110000ma01abcd2x"


def render(college_id: str) -> Manifest:
    """What `envsubst '${COLLEGE_ID}'` produces from the template."""
    text = string.Template(TEMPLATE.read_text()).substitute(COLLEGE_ID=college_id)
    return cast(Manifest, yaml.safe_load(text))


def test_template_has_only_the_documented_placeholder() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", TEMPLATE.read_text()))
    assert placeholders == {"COLLEGE_ID"}
    assert "envsubst '${COLLEGE_ID}'" in README.read_text()


def test_rendered_user_is_valid_and_least_privilege() -> None:
    user = render(COLLEGE_ID)
    assert schema_problems(user) == []
    assert check_college_user(user, COLLEGE_ID) == []
    assert user["metadata"]["labels"]["alliance.coop/college-id"] == COLLEGE_ID
    assert set(user["spec"]["quotas"]) >= {"producerByteRate", "consumerByteRate"}


def test_a_college_id_that_is_not_a_dns_label_is_rejected() -> None:
    assert schema_problems(render("Not_A_Label"))


@pytest.mark.parametrize(
    ("acl", "expected"),
    [
        (
            {"resource": {"type": "topic", "name": "alliance.funding.events"}, "operations": ["Read"]},
            "('topic', 'alliance.funding.events', 'literal', 'Read') is not needed",
        ),
        (
            {"resource": {"type": "topic", "name": "alliance.", "patternType": "prefix"}, "operations": ["Read"]},
            "('topic', 'alliance.', 'prefix', 'Read') is not needed",
        ),
        (
            {
                "resource": {"type": "group", "name": "alliance-evaluation", "patternType": "prefix"},
                "operations": ["Read"],
            },
            "('group', 'alliance-evaluation', 'prefix', 'Read') is not needed",
        ),
    ],
)
def test_extra_rights_for_a_college_are_reported(acl: Manifest, expected: str) -> None:
    user = render(COLLEGE_ID)
    user["spec"]["authorization"]["acls"].append(acl)
    assert any(expected in problem for problem in check_college_user(user, COLLEGE_ID))


def test_a_missing_right_for_a_college_is_reported() -> None:
    user = render(COLLEGE_ID)
    acls = user["spec"]["authorization"]["acls"]
    acls[:] = [acl for acl in acls if acl["resource"]["name"] != "alliance.college.reports"]
    problems = check_college_user(user, COLLEGE_ID)
    assert any("('topic', 'alliance.college.reports', 'literal', 'Write') is missing" in p for p in problems)
