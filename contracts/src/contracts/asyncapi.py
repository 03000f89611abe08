"""AsyncAPI 3.1 documents generated from the topic catalogue: what a service receives and sends, or the whole
system's topics for a partner. The payloads are the published schemas (what the readers accept), with the record's
headers, the broker's security (SASL/SCRAM-SHA-512 over TLS) and, for the upstream events, a complete example."""

from __future__ import annotations

from typing import Any

from contracts.access import outcome_group
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


KAFKA_BINDINGS = "0.5.0"
DEAD_LETTER_HEADERS = {
    "type": "object",
    "required": [
        "dlq.reason",
        "dlq.consumer",
        "dlq.origin.topic",
        "dlq.origin.partition",
        "dlq.origin.offset",
    ],
    "properties": {
        "dlq.reason": {
            "type": "string",
            "description": "Why, as a stable code (schema-invalid, not-json, key-mismatch, handler-failed, ...): "
            "docs/integration.md, 'What happens to bad input', says whose move each is.",
        },
        "dlq.detail": {
            "type": "string",
            "description": "Which field and what is wrong (field paths and rules, never a value).",
        },
        "dlq.consumer": {
            "type": "string",
            "description": "The consumer that set the record aside.",
        },
        "dlq.origin.topic": {"type": "string", "description": "Where the record was."},
        "dlq.origin.partition": {"type": "string", "description": "Its partition, as text."},
        "dlq.origin.offset": {"type": "string", "description": "Its offset, as text."},
        "dlq.origin.timestamp": {"type": "string", "description": "Its timestamp (ms), as text."},
        "dlq.truncated.key": {
            "type": "string",
            "description": "Set when the key was cut to fit: the original's size in bytes.",
        },
        "dlq.truncated.value": {
            "type": "string",
            "description": "Set when the value was cut to fit: the original's size in bytes.",
        },
    },
    "additionalProperties": {
        "type": "string",
        "description": "The original record's headers, as they were (a name that starts with dlq. as "
        "dlq.original-header.<name>; one that is not UTF-8 as dlq.original-header-hex.<hex>).",
    },
}
DEAD_LETTER = {
    "name": "DeadLetter",
    "title": "DeadLetter",
    "summary": "A record a consumer could not take, set aside with why and where it was: its original key, "
    "headers and value, as bytes.",
    "contentType": "application/octet-stream",
    "headers": DEAD_LETTER_HEADERS,
    "payload": {
        "type": "string",
        "format": "binary",
        "description": "The original record's value, byte for byte (cut to fit where dlq.truncated.value says).",
    },
    "bindings": {
        "kafka": {
            "key": {"type": "string", "description": "The original record's key, as it was."},
            "bindingVersion": KAFKA_BINDINGS,
        }
    },
}


def _key_binding(topic: Topic) -> dict[str, Any]:
    return {
        "kafka": {
            "key": {
                "type": "string",
                "description": f"The event's {topic.key}: one aggregate's records stay in order on one partition.",
            },
            "bindingVersion": KAFKA_BINDINGS,
        }
    }


def _group_binding(group: str) -> dict[str, Any]:
    return {
        "kafka": {
            "groupId": {"type": "string", "enum": [group]},
            "bindingVersion": KAFKA_BINDINGS,
        }
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
    # the systems upstream of ours (they produce and consume nothing here) read their own topics' dead letters
    upstream = {t.producer for t in catalogue.topics} - {
        c for t in catalogue.topics for c in t.consumers
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}

    def add(topic: Topic, sides: list[tuple[str, str | None]]) -> None:
        """The topic's channel and its dead-letter channel, with an operation per side: (action, the consumer
        group of a receiving side, or ``None`` for the producer's)."""
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
                "bindings": _key_binding(topic),
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
            "bindings": {"kafka": {"topic": prefix + topic.name, "bindingVersion": KAFKA_BINDINGS}},
            "x-key": topic.key,
            "x-producer": topic.producer,
            "x-consumers": list(topic.consumers),
        }
        if topic.answers is not None:
            channels[cid]["x-answers"] = prefix + topic.answers
        if topic.consumers:
            messages["DeadLetter"] = DEAD_LETTER
            channels[f"{cid}_dlq"] = {
                "address": prefix + topic.dlq,
                "description": f"Records of {topic.name} its consumers could not take, with why. Its consumers "
                f"write it; {topic.producer}, which wrote {topic.name}, reads it (assigned partitions, from the "
                "earliest offset: docs/integration.md).",
                "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
                "bindings": {
                    "kafka": {"topic": prefix + topic.dlq, "bindingVersion": KAFKA_BINDINGS}
                },
            }
            channels[cid]["x-dead-letter-topic"] = prefix + topic.dlq
        for action, group in sides:
            operation: dict[str, Any] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{cid}"},
                "messages": [{"$ref": f"#/channels/{cid}/messages/{m}"} for m in refs],
            }
            if group is None:
                operation["summary"] = f"{topic.producer} writes it."
                operations[f"{action}_{cid}"] = operation
            else:
                name = group.removeprefix(prefix)
                operation["summary"] = (
                    f"{catalogue.reader_of(topic)} reads the outcomes of its records, with "
                    f"its group {name}."
                    if topic.answers is not None
                    else f"{name} reads it, with its own consumer group."
                )
                operation["bindings"] = _group_binding(group)
                operations[f"{action}_{cid}_{_channel_id(group.removeprefix(prefix))}"] = operation
        if topic.consumers and any(group is not None for _, group in sides):
            operations[f"send_{cid}_dlq"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{cid}_dlq"},
                "summary": "A consumer sets aside a record it cannot take.",
                "messages": [{"$ref": f"#/channels/{cid}_dlq/messages/DeadLetter"}],
            }
        if (
            topic.consumers
            and any(group is None for _, group in sides)
            and topic.producer in upstream
        ):
            operations[f"receive_{cid}_dlq"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{cid}_dlq"},
                "summary": f"{topic.producer} reads what was set aside of its records, and why.",
                "messages": [{"$ref": f"#/channels/{cid}_dlq/messages/DeadLetter"}],
            }

    if everything:
        for topic in catalogue.topics:
            # an outcome topic is received by the upstream system whose records it answers
            reader = catalogue.reader_of(topic)
            readers = [prefix + outcome_group(reader)] if reader is not None else []
            add(
                topic,
                [
                    ("send", None),
                    *(("receive", prefix + c) for c in topic.consumers),
                    *(("receive", group) for group in readers),
                ],
            )
    else:
        for topic in catalogue.consumed_by(service):
            add(topic, [("receive", prefix + service)])
        for topic in catalogue.produced_by(service):
            add(topic, [("send", None)])
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
