"""Writing a kubeconfig that points kubectl (or any client) at an emulator."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_kubeconfig(
    path: Path | str,
    server_url: str,
    namespace: str = "argocd",
    *,
    token: str = "devcluster",  # noqa: S107 - an identity hint, not a credential
) -> Path:
    """Write a one-context kubeconfig for `server_url`; returns the path written.

    The token is only an identity hint: the emulator maps it to a username when it was
    given `users={token: username}`, and treats anything else as the cluster admin.
    """
    target = Path(path)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "devcluster", "cluster": {"server": server_url}}],
        "users": [{"name": "devcluster", "user": {"token": token}}],
        "contexts": [
            {
                "name": "devcluster",
                "context": {"cluster": "devcluster", "user": "devcluster", "namespace": namespace},
            }
        ],
        "current-context": "devcluster",
        "preferences": {},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    target.chmod(0o600)
    return target
