"""The values the Kubernetes adapter speaks in: resource coordinates, watch events, the
patch content types, and the base64 coding of a Secret's ``data``. No I/O."""

from __future__ import annotations

__all__ = [
    "APPLICATIONS",
    "APPPROJECTS",
    "EVENTS",
    "JSON",
    "JSON_PATCH",
    "LEASES",
    "MERGE_PATCH",
    "MUTATING_WEBHOOKS",
    "SECRETS",
    "VALIDATING_WEBHOOKS",
    "Resource",
    "WatchEvent",
    "decode_secret_data",
    "encode_secret_data",
]

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The API path of the collection (``name`` None) or of one object."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


APPLICATIONS = Resource("argoproj.io", "v1alpha1", "applications")
APPPROJECTS = Resource("argoproj.io", "v1alpha1", "appprojects")
SECRETS = Resource("", "v1", "secrets")
EVENTS = Resource("", "v1", "events")
LEASES = Resource("coordination.k8s.io", "v1", "leases")
MUTATING_WEBHOOKS = Resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
VALIDATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"
)


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
    object: JSON


def decode_secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            data[key] = base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            continue
    for key, value in (secret.get("stringData") or {}).items():
        data[key] = str(value).encode()
    return data


def encode_secret_data(data: Mapping[str, bytes]) -> dict[str, str]:
    return {key: base64.b64encode(value).decode() for key, value in data.items()}
