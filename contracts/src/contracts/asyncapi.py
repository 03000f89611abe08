"""AsyncAPI 3.0 documents generated from the topic catalogue (what a service receives and sends)."""

from __future__ import annotations

from typing import Any

from contracts.topics import Catalogue, Topic


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_").replace("-", "_")


def document(
    service: str, catalogue: Catalogue, *, version: str, prefix: str = "", description: str = ""
) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}

    def add(topic: Topic, action: str) -> None:
        cid = _channel_id(topic.name)
        refs = {}
        for model in topic.events:
            name = model.__name__
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas[def_name] = definition
            schemas[name] = schema
            messages[name] = {
                "name": name,
                "title": name,
                "summary": (model.__doc__ or "").strip().split("\n")[0],
                "contentType": "application/json",
                "payload": {"$ref": f"#/components/schemas/{name}"},
            }
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        channels[cid] = {
            "address": prefix + topic.name,
            "description": topic.description,
            "messages": refs,
            "x-key": topic.key,
            "x-producer": topic.producer,
            "x-consumers": list(topic.consumers),
            "x-dead-letter-topic": prefix + topic.dlq,
        }
        operations[f"{action}_{cid}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{m}"} for m in refs],
        }

    for topic in catalogue.consumed_by(service):
        add(topic, "receive")
    for topic in catalogue.produced_by(service):
        add(topic, "send")
    return {
        "asyncapi": "3.0.0",
        "info": {"title": service, "version": version, "description": description},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
