"""Schema validation of built manifests: Kubernetes kinds and our custom resources.

kubernetes-validate and jsonschema ship no type information, so they are imported
dynamically and bound to the precise signatures used here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Protocol, cast

from tests.deploy.crd_schemas import CUSTOM_RESOURCE_SCHEMAS, Schema
from tests.deploy.manifests import Manifest, describe

#: The Kubernetes release whose schemas the manifests must satisfy (kubernetes-validate bundles it).
KUBERNETES_VERSION = "1.33"


class _SchemaError(Protocol):
    message: str
    absolute_path: Iterable[object]


class _Validator(Protocol):
    def iter_errors(self, instance: object) -> Iterable[_SchemaError]: ...


_kubernetes_validate = importlib.import_module("kubernetes_validate")
_validate_kubernetes = cast(Callable[[Manifest, str, bool], str], _kubernetes_validate.validate)
_KubernetesValidationError = cast(type[Exception], _kubernetes_validate.ValidationError)
_SchemaNotFoundError = cast(type[Exception], _kubernetes_validate.SchemaNotFoundError)
_draft_2020_12 = cast(Callable[[Schema], _Validator], importlib.import_module("jsonschema").Draft202012Validator)


def kubernetes_problems(obj: Manifest) -> list[str]:
    """Problems against the official schema of the object's kind, strict: unknown fields fail."""
    try:
        _validate_kubernetes(obj, KUBERNETES_VERSION, True)
    except _KubernetesValidationError as error:
        path = "/".join(str(p) for p in getattr(error, "absolute_path", []))
        return [f"{describe(obj)} at /{path}: {getattr(error, 'message', error)}"]
    except _SchemaNotFoundError:
        return [f"{describe(obj)}: {obj.get('apiVersion')} is not a Kubernetes {KUBERNETES_VERSION} API"]
    return []


def custom_resource_problems(obj: Manifest) -> list[str]:
    schema = CUSTOM_RESOURCE_SCHEMAS[(obj["apiVersion"], obj["kind"])]
    return [
        f"{describe(obj)} at /{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in _draft_2020_12(schema).iter_errors(obj)
    ]


def is_custom_resource(obj: Manifest) -> bool:
    return (obj.get("apiVersion"), obj.get("kind")) in CUSTOM_RESOURCE_SCHEMAS


def schema_problems(obj: Manifest) -> list[str]:
    return custom_resource_problems(obj) if is_custom_resource(obj) else kubernetes_problems(obj)
