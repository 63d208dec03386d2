"""Publish the event contracts: one JSON Schema per event type and an AsyncAPI document.

Run ``python -m shared.contracts.publish`` after changing a contract; a test checks that
``docs/events`` matches the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contracts import registry
from shared.settings import SERVICES, topic_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each event type's data, by CloudEvents type."""
    return {name: model.model_json_schema() for name, model in sorted(registry.types().items())}


def asyncapi() -> dict[str, Any]:
    messages = {
        _key(name): {
            "name": name,
            "title": name.split(".")[2],
            "contentType": "application/json",
            "bindings": {"kafka": {"key": {"type": "string", "description": "the shipment id"}}},
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
            "payload": {"$ref": f"./{name}.schema.json"},
        }
        for name in registry.types()
    }
    channels = {
        topic_of(service): {
            "address": topic_of(service),
            "description": f"Events of the {service} service, keyed by shipment id.",
            "messages": {
                _key(name): {"$ref": f"#/components/messages/{_key(name)}"}
                for name in registry.types()
                if name.split(".")[1] == service
            },
        }
        for service in SERVICES
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "AidPort events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0, Kafka protocol binding, binary mode.",
        },
        "channels": channels,
        "components": {"messages": messages, "schemas": {"CloudEventsHeaders": _headers()}},
    }


def _key(event_type: str) -> str:
    return event_type.replace(".", "_")


def _headers() -> dict[str, Any]:
    names = [
        "ce_specversion",
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_subject",
        "ce_time",
        "content-type",
        "ce_correlationid",
        "ce_causationid",
        "ce_actor",
        "ce_actorrole",
        "ce_streamversion",
    ]
    return {
        "type": "object",
        "required": names[:6],
        "properties": {name: {"type": "string"} for name in names},
    }


def documents() -> dict[str, str]:
    """File name -> text of every published document."""
    files = {f"{name}.schema.json": schema for name, schema in schemas().items()}
    files["asyncapi.json"] = asyncapi()
    return {
        name: json.dumps(doc, indent=2, ensure_ascii=False) + "\n" for name, doc in files.items()
    }


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (DOCS / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(documents())} documents to {DOCS}")


if __name__ == "__main__":
    main()
