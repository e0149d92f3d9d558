"""Shared pieces of the git credential tests: Secret bodies, recognisable secret values that
must never reach a message, and an in-memory ``GitSecrets`` (the protocol's contract: decoded
data for ``read_secret``, raw Secret JSON for ``list_secrets``) for the lookup tables.
The adapter itself is tested against the API emulator in ``test_kube_adapter.py``."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from imageupdater.errors import CredentialError

ARGOCD = "argocd"

# Every value below is distinctive, so a test can assert that no message contains it.
PASSWORD = "pw-0f3c9e1a-never-shown"
USERNAME = "deploy-bot"
SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAA-sshkey-never-shown\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
APP_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA-appkey-never-shown\n"
    "-----END RSA PRIVATE KEY-----\n"
)
TLS_CERT = "-----BEGIN CERTIFICATE-----\nMIIBcert-never-shown\n-----END CERTIFICATE-----\n"
TLS_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQtlskey-never-shown\n-----END PRIVATE KEY-----\n"
PROXY = "http://proxyuser:proxy-pass-never-shown@proxy.internal:3128"
SECRET_VALUES = (
    PASSWORD,
    "sshkey-never-shown",
    "appkey-never-shown",
    "cert-never-shown",
    "tlskey-never-shown",
    "proxy-pass-never-shown",
)


def assert_no_secret(text: str) -> None:
    for value in SECRET_VALUES:
        assert value not in text, f"a secret value leaked into: {text}"


def secret(name: str, data: Mapping[str, str], *, secret_type: str | None = None) -> dict[str, Any]:
    """A Secret body as the API serves it (``data`` base64-encoded)."""
    labels = {"argocd.argoproj.io/secret-type": secret_type} if secret_type else {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ARGOCD, "labels": labels},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def repository(name: str, url: str, **fields: str) -> dict[str, Any]:
    return secret(name, {"url": url, **fields}, secret_type="repository")


def template(name: str, url: str, **fields: str) -> dict[str, Any]:
    return secret(name, {"url": url, **fields}, secret_type="repo-creds")


class MemorySecrets:
    """``GitSecrets`` over dictionaries, recording what was asked."""

    def __init__(
        self,
        secrets: list[dict[str, Any]] | None = None,
        config_maps: dict[tuple[str, str], dict[str, str]] | None = None,
    ) -> None:
        self.secrets = list(secrets or [])
        self.config_maps = dict(config_maps or {})
        self.listed: list[tuple[str, str]] = []

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]:
        for body in self.secrets:
            meta = body["metadata"]
            if (meta.get("namespace", ARGOCD), meta["name"]) == (namespace, name):
                return {k: base64.b64decode(v) for k, v in body.get("data", {}).items()}
        raise CredentialError(f"secret {namespace}/{name} not found")

    async def list_secrets(self, namespace: str, label_selector: str) -> list[Mapping[str, Any]]:
        self.listed.append((namespace, label_selector))
        key, _, value = label_selector.partition("=")
        return [
            body
            for body in self.secrets
            if body["metadata"].get("namespace", ARGOCD) == namespace
            and body["metadata"].get("labels", {}).get(key) == value
        ]

    async def read_config_map(self, namespace: str, name: str) -> Mapping[str, str] | None:
        return self.config_maps.get((namespace, name))


def in_namespace(body: dict[str, Any], namespace: str) -> dict[str, Any]:
    body["metadata"]["namespace"] = namespace
    return body
