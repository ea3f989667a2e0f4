"""Generates the published event contract from the payload models:
one JSON Schema per event type and an AsyncAPI 3 document, into docs/contract.

`make contract` writes them; a test fails when the checked-in copies drift.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.contract.topics import COLLEGE_ID_PATTERN, COLLEGE_REPORTS_ADDRESS, CONTEXT_TOPIC, dlq_of

CONTRACT_VERSION = "1.0.0"

CLOUDEVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary content mode (one header each, UTF-8).",
    "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_subject", "ce_time"],
    "properties": {
        "ce_id": {"type": "string", "description": "event id (UUID); consumers dedupe by it"},
        "ce_source": {
            "type": "string",
            "description": "the producing service or college system (informative: a college report is "
            "attributed to the college whose topic it arrives on)",
        },
        "ce_type": {"type": "string", "description": "org.coopalliance.<context>.<entity>.<happened>.v<N>"},
        "ce_specversion": {"const": "1.0"},
        "ce_subject": {"type": "string", "description": "aggregate id, also the record key"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_correlationid": {"type": "string"},
        "ce_causationid": {"type": "string"},
        "ce_traceparent": {"type": "string", "description": "W3C trace context"},
        "content-type": {"const": "application/json"},
    },
}


def topics_of(event_type: str) -> list[str]:
    """Where a type is published: its context's topic; platform events on every service's own."""
    context = event_type.split(".")[2]
    if context == "college":
        return [COLLEGE_REPORTS_ADDRESS]
    if context == "platform":
        return sorted(CONTEXT_TOPIC.values())
    return [CONTEXT_TOPIC[context]]


def message_name(event_type: str) -> str:
    parts = event_type.split(".")[3:]
    return "".join(p.replace("_", " ").title().replace(" ", "") for p in parts[:-1]) + parts[-1].upper()


def json_schemas(catalog: EventCatalog) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for model in catalog:
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://coopalliance.org/contract/schemas/{model.event_type}.json"
        schema["x-event-type"] = model.event_type
        schema["x-topics"] = topics_of(model.event_type)
        schema["x-aggregate-field"] = model.aggregate_field
        schemas[model.event_type] = schema
    return schemas


def asyncapi(catalog: EventCatalog) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEventHeaders": CLOUDEVENT_HEADERS}
    for event_type, schema in sorted(json_schemas(catalog).items()):
        name = message_name(event_type)
        schemas[name] = {k: v for k, v in schema.items() if not k.startswith("$")}
        messages[name] = {
            "name": event_type,
            "title": schema.get("title", name),
            "summary": (schema.get("description") or "").split("\n")[0],
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": schema["x-aggregate-field"]}}},
        }
        for topic in schema["x-topics"]:
            channel = channels.setdefault(
                re.sub(r"[^A-Za-z0-9_]", "_", topic),
                {
                    "address": topic,
                    "description": f"keyed by aggregate id; rejected records go to {dlq_of(topic)}",
                    "messages": {},
                },
            )
            channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
            if topic == COLLEGE_REPORTS_ADDRESS:
                channel["description"] = (
                    "one topic per college, written only by that college's principal (SASL/SCRAM, ACL); "
                    f"keyed by agreement id; rejected records go to {dlq_of(topic)}"
                )
                channel["parameters"] = {
                    "collegeId": {"description": f"the college's partner id (pattern {COLLEGE_ID_PATTERN})"}
                }
    for channel_id, channel in channels.items():
        inbound = channel["address"] == COLLEGE_REPORTS_ADDRESS
        operations[("receive_" if inbound else "send_") + channel_id] = {
            "action": "receive" if inbound else "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": (
                "college systems publish reports; the evaluation service consumes them"
                if inbound
                else f"the platform publishes {channel['address']}"
            ),
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel["messages"]],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Cooperation Alliance Platform events",
            "version": CONTRACT_VERSION,
            "description": "CloudEvents 1.0 in Kafka binary mode. Versions only grow compatibly; "
            "a breaking change is a new type with the next .vN suffix.",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "make run"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render(catalog: EventCatalog = PLATFORM_CATALOG) -> dict[str, str]:
    """Relative path → file content of the whole generated contract."""
    files = {
        f"schemas/{event_type}.json": json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for event_type, schema in json_schemas(catalog).items()
    }
    files["asyncapi.json"] = json.dumps(asyncapi(catalog), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return files


def main() -> None:
    parser = argparse.ArgumentParser(prog="alliance-contract", description=__doc__)
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("docs/contract"))
    args = parser.parse_args()
    schema_dir = args.out_dir / "schemas"
    schema_dir.mkdir(parents=True, exist_ok=True)
    for stale in schema_dir.glob("*.json"):
        stale.unlink()
    for relative, content in render().items():
        (args.out_dir / relative).write_text(content)
    print(f"wrote {len(list(schema_dir.glob('*.json')))} schemas and asyncapi.json to {args.out_dir}")
