"""What a connection to one API server is made of, once a kubeconfig (or the pod's service
account) has been read: the cluster (server, TLS, proxy) and the user (how to authenticate).

Plain values, no I/O. Fields that hold credentials are left out of ``repr`` so a value
logged by mistake shows no token, password or key.
"""

from __future__ import annotations

__all__ = [
    "EXEC_API_VERSIONS",
    "ClusterSettings",
    "Connection",
    "ExecSettings",
    "PemSource",
    "UserSettings",
]

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A PEM certificate or key: a file to read, or the PEM itself (from a ``*-data`` field or
# an exec plugin's answer).
PemSource = Path | bytes

# The ExecCredential versions client-go still speaks (v1alpha1 was removed in 1.24).
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    name: str
    server: str  # scheme://host[:port][/prefix], no trailing slash
    certificate_authority: PemSource | None = None  # None: the system's trust store
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = field(default=None, repr=False)  # may carry a password
    exec_config: Any = None  # the cluster's client.authentication.k8s.io/exec extension

    @property
    def https(self) -> bool:
        return self.server.startswith("https://")


@dataclass(frozen=True, slots=True)
class ExecSettings:
    """A client-go credential plugin: run ``command`` and read an ExecCredential from it."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = EXEC_API_VERSIONS[0]
    install_hint: str = ""
    provide_cluster_info: bool = False


@dataclass(frozen=True, slots=True)
class UserSettings:
    name: str  # "" for no user: anonymous
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_certificate: PemSource | None = field(default=None, repr=False)
    client_key: PemSource | None = field(default=None, repr=False)
    exec: ExecSettings | None = None
    # Impersonate-* request headers (kubeconfig ``as``, ``as-uid``, ``as-groups``,
    # ``as-user-extra``), in order; a name may repeat.
    impersonate: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Connection:
    cluster: ClusterSettings
    user: UserSettings
    # What was read, for messages: "kubeconfig PATH (from $KUBECONFIG)", or "the in-cluster
    # service account's configuration".
    origin: str
