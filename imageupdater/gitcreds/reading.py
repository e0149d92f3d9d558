"""What the credential lookups read from Kubernetes: the ``GitSecrets`` protocol and
``KubeGitSecrets``, its implementation over ``imageupdater.kube.KubeClient`` (a missing
object and an RBAC refusal become ``CredentialError`` naming the verb needed)."""

from __future__ import annotations

__all__ = ["CONFIG_MAPS", "GitSecrets", "KubeGitSecrets"]

from collections.abc import Mapping
from typing import Any, Protocol

from imageupdater import kube
from imageupdater.errors import CredentialError, KubeForbidden, KubeNotFound

CONFIG_MAPS = kube.Resource("", "v1", "configmaps")


class GitSecrets(Protocol):
    """What the lookups read. Missing or forbidden objects raise ``CredentialError``
    (``read_config_map`` answers None for a missing ConfigMap); transient API failures stay
    ``KubeError`` (``transient``), so a caller backs off instead of giving up."""

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]: ...

    async def list_secrets(
        self, namespace: str, label_selector: str
    ) -> list[Mapping[str, Any]]: ...

    async def read_config_map(self, namespace: str, name: str) -> Mapping[str, str] | None: ...


def _forbidden(verb: str, plural: str, namespace: str, what: str) -> CredentialError:
    return CredentialError(
        f"not allowed to {what}: the updater's service account needs RBAC permission to "
        f"'{verb}' '{plural}' in namespace '{namespace}'"
    )


class KubeGitSecrets:
    """``GitSecrets`` over the Kubernetes API (``list_secrets`` returns raw Secret JSON)."""

    def __init__(self, client: kube.KubeClient) -> None:
        self._client = client

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]:
        try:
            secret = await self._client.get(kube.SECRETS, namespace, name)
        except KubeNotFound:
            raise CredentialError(f"secret {namespace}/{name} not found") from None
        except KubeForbidden:
            what = f"read secret {namespace}/{name}"
            raise _forbidden("get", "secrets", namespace, what) from None
        return kube.decode_secret_data(secret)

    async def list_secrets(self, namespace: str, label_selector: str) -> list[Mapping[str, Any]]:
        try:
            listed = await self._client.list(kube.SECRETS, namespace, label_selector=label_selector)
        except KubeNotFound:
            return []  # no such namespace: nothing is labelled there
        except KubeForbidden:
            what = f"list secrets labelled {label_selector} in namespace '{namespace}'"
            raise _forbidden("list", "secrets", namespace, what) from None
        items = listed.get("items")
        if not isinstance(items, list):
            return []
        return [item for item in items if isinstance(item, Mapping)]

    async def read_config_map(self, namespace: str, name: str) -> Mapping[str, str] | None:
        try:
            config_map = await self._client.get(CONFIG_MAPS, namespace, name)
        except KubeNotFound:
            return None
        except KubeForbidden:
            what = f"read ConfigMap {namespace}/{name}"
            raise _forbidden("get", "configmaps", namespace, what) from None
        data = config_map.get("data")
        if not isinstance(data, Mapping):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
