"""The pod's own service account as a :class:`Connection`: ``KUBERNETES_SERVICE_HOST`` and
``KUBERNETES_SERVICE_PORT`` for the server, the mounted ``ca.crt`` to verify it, and the
mounted token, which the client re-reads as it rotates (bound tokens expire within the
hour; the kubelet refreshes the file well before that)."""

from __future__ import annotations

__all__ = ["SERVICE_ACCOUNT", "ServiceAccount", "in_cluster"]

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imageupdater.errors import InvalidKubeconfig

from .settings import ClusterSettings, Connection, UserSettings

_MOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """Where the kubelet mounts the service account (a parameter so tests can point
    elsewhere)."""

    token: Path = _MOUNT / "token"
    ca: Path = _MOUNT / "ca.crt"


SERVICE_ACCOUNT = ServiceAccount()


def in_cluster(environ: Mapping[str, str], account: ServiceAccount) -> Connection:
    host = environ.get("KUBERNETES_SERVICE_HOST", "").strip()
    port = environ.get("KUBERNETES_SERVICE_PORT", "").strip()
    if not host or not port:
        raise InvalidKubeconfig(
            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set"
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address, as Go's net.JoinHostPort writes it
    if not account.token.is_file():
        raise InvalidKubeconfig(f"no service account token at {account.token}")
    if not account.ca.is_file():
        raise InvalidKubeconfig(f"no service account CA certificate at {account.ca}")
    return Connection(
        ClusterSettings("in-cluster", f"https://{host}:{port}", certificate_authority=account.ca),
        UserSettings("service account", token_file=account.token),
        origin="the in-cluster service account's configuration",
    )
