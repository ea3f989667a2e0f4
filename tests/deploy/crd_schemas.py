"""JSON Schemas for the custom resources, reduced to what a cluster with the CRDs would reject.

Kubernetes' own schemas (kubernetes-validate) do not cover CRDs, and the CRDs are not
available offline, so these hold the required fields, enums, patterns and types of the
fields we use, transcribed from:

* Strimzi 0.48 CRDs, ``kafka.strimzi.io/v1beta2`` (packaging/install/cluster-operator/
  04x-Crd-kafka*.yaml): Kafka, KafkaNodePool, KafkaTopic, KafkaUser;
* MongoDB Community Operator, ``mongodbcommunity.mongodb.com/v1`` (config/crd/bases/
  mongodbcommunity.mongodb.com_mongodbcommunity.yaml): MongoDBCommunity;
* Prometheus Operator v0.8x, ``monitoring.coreos.com/v1`` (example/prometheus-operator-crd/):
  ServiceMonitor, PrometheusRule.

Where we are sure of a CRD's full property list (ACL entries, topic specs, listeners)
``additionalProperties: false`` rejects typos; elsewhere unknown fields pass, as they would
not with the real structural schema, so keep to documented fields.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
_QUANTITY = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?([EPTGMK]i?|[mk])?$"}]}
_RESOURCES: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "requests": {"type": "object", "additionalProperties": _QUANTITY},
        "limits": {"type": "object", "additionalProperties": _QUANTITY},
    },
}


def _resource(api_version: str, kind: str, spec: Schema, *, cluster_label: bool) -> Schema:
    metadata: Schema = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": _DNS_SUBDOMAIN, "maxLength": 253}},
    }
    if cluster_label:  # the Strimzi operators ignore resources without it
        metadata["required"] = ["name", "labels"]
        metadata["properties"]["labels"] = {
            "type": "object",
            "required": ["strimzi.io/cluster"],
            "additionalProperties": {"type": "string"},
        }
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": metadata,
            "spec": spec,
        },
    }


_SCRAM_OR_TLS = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["tls", "scram-sha-512", "oauth", "custom"]}},
}

_LISTENER: Schema = {
    "type": "object",
    "required": ["name", "port", "type", "tls"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]{1,11}$"},
        "port": {"type": "integer", "minimum": 9092},
        "type": {"enum": ["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"]},
        "tls": {"type": "boolean"},
        "authentication": _SCRAM_OR_TLS,
        "configuration": {"type": "object"},
        "networkPolicyPeers": {"type": "array", "items": {"type": "object"}},
    },
}

KAFKA = _resource(
    "kafka.strimzi.io/v1beta2",
    "Kafka",
    {
        "type": "object",
        "required": ["kafka"],
        "properties": {
            "kafka": {
                "type": "object",
                "required": ["listeners"],
                "properties": {
                    "version": {"type": "string"},
                    "metadataVersion": {"type": "string"},
                    "listeners": {"type": "array", "minItems": 1, "items": _LISTENER},
                    "authorization": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"enum": ["simple", "keycloak", "opa", "custom"]}},
                    },
                    "config": {"type": "object"},
                    "resources": _RESOURCES,
                },
            },
            "entityOperator": {
                "type": "object",
                "properties": {
                    "topicOperator": {"type": "object", "properties": {"resources": _RESOURCES}},
                    "userOperator": {"type": "object", "properties": {"resources": _RESOURCES}},
                },
            },
        },
    },
    cluster_label=False,
)

_VOLUME: Schema = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": ["ephemeral", "persistent-claim"]},
        "id": {"type": "integer", "minimum": 0},
        "size": {"type": "string"},
        "sizeLimit": {"type": "string", "pattern": r"^([0-9.]+)([KMGTPE]i?)?$"},
        "deleteClaim": {"type": "boolean"},
        "kraftMetadata": {"enum": ["shared"]},
        "class": {"type": "string"},
    },
}

KAFKA_NODE_POOL = _resource(
    "kafka.strimzi.io/v1beta2",
    "KafkaNodePool",
    {
        "type": "object",
        "required": ["replicas", "storage", "roles"],
        "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "roles": {"type": "array", "minItems": 1, "items": {"enum": ["controller", "broker"]}},
            "storage": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["ephemeral", "persistent-claim", "jbod"]},
                    "volumes": {"type": "array", "items": _VOLUME},
                    "sizeLimit": {"type": "string", "pattern": r"^([0-9.]+)([KMGTPE]i?)?$"},
                },
                "if": {"properties": {"type": {"const": "jbod"}}},
                "then": {"required": ["volumes"]},
            },
            "resources": _RESOURCES,
            "template": {"type": "object"},
        },
    },
    cluster_label=True,
)

KAFKA_TOPIC = _resource(
    "kafka.strimzi.io/v1beta2",
    "KafkaTopic",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "topicName": {"type": "string"},
            "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
            "config": {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean", "number"]}},
        },
    },
    cluster_label=True,
)

_ACL: Schema = {
    "type": "object",
    "required": ["resource"],
    "additionalProperties": False,
    "properties": {
        "resource": {
            "type": "object",
            "required": ["type"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["topic", "group", "cluster", "transactionalId"]},
                "name": {"type": "string"},
                "patternType": {"enum": ["literal", "prefix"]},
            },
        },
        "type": {"enum": ["allow", "deny"]},
        "host": {"type": "string"},
        "operations": {
            "type": "array",
            "minItems": 1,
            "items": {
                "enum": [
                    "Read",
                    "Write",
                    "Create",
                    "Delete",
                    "Alter",
                    "Describe",
                    "ClusterAction",
                    "AlterConfigs",
                    "DescribeConfigs",
                    "IdempotentWrite",
                    "All",
                ]
            },
        },
    },
    "anyOf": [{"required": ["operations"]}, {"required": ["operation"]}],
}

KAFKA_USER = _resource(
    "kafka.strimzi.io/v1beta2",
    "KafkaUser",
    {
        "type": "object",
        "properties": {
            "authentication": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": ["tls", "tls-external", "scram-sha-512"]}},
            },
            "authorization": {
                "type": "object",
                "required": ["type", "acls"],
                "properties": {"type": {"const": "simple"}, "acls": {"type": "array", "items": _ACL}},
            },
            "quotas": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "producerByteRate": {"type": "integer", "minimum": 0},
                    "consumerByteRate": {"type": "integer", "minimum": 0},
                    "requestPercentage": {"type": "integer", "minimum": 0},
                    "controllerMutationRate": {"type": "number", "minimum": 0},
                },
            },
        },
    },
    cluster_label=True,
)

_MONGO_ROLE = {
    "type": "object",
    "required": ["db", "name"],
    "properties": {"db": {"type": "string"}, "name": {"type": "string"}},
}

MONGODB_COMMUNITY = _resource(
    "mongodbcommunity.mongodb.com/v1",
    "MongoDBCommunity",
    {
        "type": "object",
        "required": ["security", "type", "users", "version"],
        "properties": {
            "members": {"type": "integer", "minimum": 1},
            "type": {"enum": ["ReplicaSet"]},
            "version": {"type": "string"},
            "security": {
                "type": "object",
                "properties": {
                    "authentication": {
                        "type": "object",
                        "required": ["modes"],
                        "properties": {
                            "modes": {"type": "array", "items": {"enum": ["SCRAM", "SCRAM-SHA-256", "SCRAM-SHA-1"]}}
                        },
                    }
                },
            },
            "users": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "passwordSecretRef", "roles", "scramCredentialsSecretName"],
                    "properties": {
                        "name": {"type": "string"},
                        "db": {"type": "string"},
                        "passwordSecretRef": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}, "key": {"type": "string"}},
                        },
                        "roles": {"type": "array", "items": _MONGO_ROLE},
                        "scramCredentialsSecretName": {"type": "string", "pattern": _DNS_SUBDOMAIN},
                        "connectionStringSecretName": {"type": "string"},
                    },
                },
            },
            "additionalMongodConfig": {"type": "object"},
            "statefulSet": {"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}},
        },
    },
    cluster_label=False,
)

SERVICE_MONITOR = _resource(
    "monitoring.coreos.com/v1",
    "ServiceMonitor",
    {
        "type": "object",
        "required": ["selector"],
        "properties": {
            "selector": {"type": "object"},
            "endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "port": {"type": "string"},
                        "path": {"type": "string"},
                        "interval": {"type": "string", "pattern": _DURATION},
                        "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                    },
                },
            },
        },
    },
    cluster_label=False,
)

_RULE: Schema = {
    "type": "object",
    "required": ["expr"],
    "properties": {
        "alert": {"type": "string"},
        "record": {"type": "string"},
        "expr": {"type": ["string", "integer"]},
        "for": {"type": "string", "pattern": _DURATION},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
}

PROMETHEUS_RULE = _resource(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    {
        "type": "object",
        "properties": {
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "rules"],
                    "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": _RULE}},
                },
            }
        },
    },
    cluster_label=False,
)

#: (apiVersion, kind) → schema, for every custom resource the manifests may contain.
CUSTOM_RESOURCE_SCHEMAS: dict[tuple[str, str], Schema] = {
    (schema["properties"]["apiVersion"]["const"], schema["properties"]["kind"]["const"]): schema
    for schema in (
        KAFKA,
        KAFKA_NODE_POOL,
        KAFKA_TOPIC,
        KAFKA_USER,
        MONGODB_COMMUNITY,
        SERVICE_MONITOR,
        PROMETHEUS_RULE,
    )
}
