"""AsyncAPI 3.1 documents generated from the topic catalogue: what a service receives and sends, or the whole
system's topics for a partner. The payloads are the published schemas (what the readers accept), with the record's
headers, the broker's security (SASL/SCRAM-SHA-512 over TLS) and, for the upstream events, a complete example."""

from __future__ import annotations

from typing import Any

from contracts.topics import Catalogue, Topic


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_").replace("-", "_")


SERVERS = {
    "cluster": {
        "host": "{bootstrap}",
        "protocol": "kafka-secure",
        "description": "The deployment's Kafka cluster: TLS with its CA certificate, then SASL/SCRAM-SHA-512 as the "
        "principal the catalogue names (each topic's producer writes it, its consumers read it).",
        "variables": {
            "bootstrap": {
                "description": "The bootstrap servers (KAFKA_BOOTSTRAP_SERVERS).",
                "default": "127.0.0.1:9092",
            }
        },
        "security": [{"$ref": "#/components/securitySchemes/scramSha512"}],
    }
}
SECURITY = {
    "scramSha512": {
        "type": "scramSha512",
        "description": "SASL/SCRAM-SHA-512 over TLS; the user is the principal (payments-system, msp-approvals, "
        "...), its password given by the platform team.",
    }
}
HEADERS = {
    "type": "object",
    "properties": {
        "content-type": {
            "type": "string",
            "const": "application/json",
            "description": "Optional; any other content type is refused (dead-lettered content-type-not-json).",
        }
    },
}


def document(
    service: str,
    catalogue: Catalogue,
    *,
    version: str,
    prefix: str = "",
    description: str = "",
    everything: bool = False,
) -> dict[str, Any]:
    """One service's document (what it receives and sends), or with ``everything`` the whole system's."""
    from contracts.docs import schema_of  # the published schema, which the docs module makes
    from contracts.examples import example_messages

    examples = example_messages()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}

    def add(topic: Topic, action: str) -> None:
        cid = _channel_id(topic.name)
        refs = {}
        for model in topic.events:
            name = model.__name__
            schema = _referenced(schema_of(model))
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas[def_name] = definition
            schemas[name] = schema
            messages[name] = {
                "name": name,
                "title": name,
                "summary": (model.__doc__ or "").strip().split("\n")[0],
                "contentType": "application/json",
                "headers": HEADERS,
                "payload": {"$ref": f"#/components/schemas/{name}"},
            }
            if name in examples:
                messages[name]["examples"] = [
                    {
                        "name": "complete",
                        "headers": {"content-type": "application/json"},
                        "payload": examples[name],
                    }
                ]
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

    if everything:
        for topic in catalogue.topics:
            add(topic, "send")
    else:
        for topic in catalogue.consumed_by(service):
            add(topic, "receive")
        for topic in catalogue.produced_by(service):
            add(topic, "send")
    return {
        "asyncapi": "3.1.0",
        "info": {"title": service, "version": version, "description": description},
        "defaultContentType": "application/json",
        "servers": SERVERS,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas, "securitySchemes": SECURITY},
    }


def _referenced(node: Any) -> Any:
    """A schema with its local ``#/$defs/X`` references pointing at the document's components."""
    if isinstance(node, dict):
        return {
            k: (
                v.replace("#/$defs/", "#/components/schemas/")
                if k == "$ref" and isinstance(v, str)
                else _referenced(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_referenced(v) for v in node]
    return node
