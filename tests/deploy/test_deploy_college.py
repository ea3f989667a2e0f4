"""The college-onboarding templates render to a valid KafkaUser with exactly college_access's
rights (write its own reports topic, nothing else) and to that topic and its dead-letter twin."""

from __future__ import annotations

import re
import string
from typing import cast

import pytest
import yaml

from alliance_shared.contract.topics import college_of_topic, college_reports_topic
from tests.deploy.manifests import K8S_DIR, Manifest
from tests.deploy.policies import check_college_topics, check_college_user
from tests.deploy.validation import schema_problems

TEMPLATE = K8S_DIR / "college-onboarding" / "kafkauser.template.yaml"
TOPICS_TEMPLATE = K8S_DIR / "college-onboarding" / "kafkatopic.template.yaml"
README = K8S_DIR / "college-onboarding" / "README.md"
COLLEGE_ID = "col-3f9a1c7e2b4d"


def render(college_id: str) -> Manifest:
    """What `envsubst '${COLLEGE_ID}'` produces from the template."""
    text = string.Template(TEMPLATE.read_text()).substitute(COLLEGE_ID=college_id)
    return cast(Manifest, yaml.safe_load(text))


def render_topics(college_id: str) -> list[Manifest]:
    text = string.Template(TOPICS_TEMPLATE.read_text()).substitute(COLLEGE_ID=college_id)
    return [cast(Manifest, doc) for doc in yaml.safe_load_all(text) if doc]


def test_templates_have_only_the_documented_placeholder() -> None:
    for template in (TEMPLATE, TOPICS_TEMPLATE):
        placeholders = set(re.findall(r"\$\{(\w+)\}", template.read_text()))
        assert placeholders == {"COLLEGE_ID"}
        assert f"envsubst '${{COLLEGE_ID}}' < deploy/k8s/college-onboarding/{template.name}" in README.read_text()


def test_rendered_user_is_valid_and_least_privilege() -> None:
    user = render(COLLEGE_ID)
    assert schema_problems(user) == []
    assert check_college_user(user, COLLEGE_ID) == []
    assert user["metadata"]["labels"]["alliance.coop/college-id"] == COLLEGE_ID
    assert set(user["spec"]["quotas"]) >= {"producerByteRate", "requestPercentage"}


def test_rendered_topics_are_the_colleges_own_with_the_codes_limits() -> None:
    topics = render_topics(COLLEGE_ID)
    assert [schema_problems(topic) for topic in topics] == [[], []]
    assert check_college_topics(topics, COLLEGE_ID, replicas=3) == []
    assert college_of_topic(college_reports_topic(COLLEGE_ID)) == COLLEGE_ID


def test_a_topic_with_another_size_or_name_is_reported() -> None:
    topics = render_topics(COLLEGE_ID)
    topics[0]["spec"]["config"]["max.message.bytes"] = "10485760"
    topics[1]["spec"]["topicName"] = "alliance.college.reports.dlq"
    problems = check_college_topics(topics, COLLEGE_ID, replicas=3)
    assert any("max.message.bytes must be the code's limit 327680" in p for p in problems)
    assert any("alliance.college.reports.dlq is not the college's" in p for p in problems)
    assert any(f"{college_reports_topic(COLLEGE_ID)}.dlq has no KafkaTopic" in p for p in problems)


def test_a_college_id_that_is_not_a_dns_label_is_rejected() -> None:
    assert schema_problems(render("Not_A_Label"))


@pytest.mark.parametrize(
    ("acl", "expected"),
    [
        (
            {"resource": {"type": "topic", "name": "alliance.funding.events"}, "operations": ["Read"]},
            "('topic', 'alliance.funding.events', 'literal', 'Read') is not needed",
        ),
        (  # colleges read their news by webhook and inbox, never on Kafka (issue 15, item 7)
            {"resource": {"type": "topic", "name": "alliance.evaluation.events"}, "operations": ["Read"]},
            "('topic', 'alliance.evaluation.events', 'literal', 'Read') is not needed",
        ),
        (  # another college's topic
            {"resource": {"type": "topic", "name": "alliance.college.col-other.reports"}, "operations": ["Write"]},
            "('topic', 'alliance.college.col-other.reports', 'literal', 'Write') is not needed",
        ),
        (
            {
                "resource": {"type": "topic", "name": "alliance.college.", "patternType": "prefix"},
                "operations": ["Write"],
            },
            "('topic', 'alliance.college.', 'prefix', 'Write') is not needed",
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
    own = college_reports_topic(COLLEGE_ID)
    acls[:] = [acl for acl in acls if acl["resource"]["name"] != own]
    problems = check_college_user(user, COLLEGE_ID)
    assert any(f"('topic', '{own}', 'literal', 'Write') is missing" in p for p in problems)
