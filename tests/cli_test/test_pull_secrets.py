"""`image-updater test` reading credentials from Kubernetes Secrets through --kubeconfig."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry
from tests.cli_test.conftest import Seed, seed, write_conf
from tests.conftest import AUTH_PASSWORD, AUTH_USER


def secret(name: str, data: dict[str, bytes], kind: str = "Opaque") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": kind,
        "metadata": {"name": name, "namespace": "argocd"},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


@pytest.fixture
def cluster(tmp_path: Path, auth_registry: LocalRegistry) -> Iterator[Path]:
    api = KubeAPI()
    auth = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
    config = {"auths": {f"http://{auth_registry.host}/v1/": {"auth": auth}}}
    api.store.put(
        secret(
            "regcred",
            {".dockerconfigjson": json.dumps(config).encode()},
            "kubernetes.io/dockerconfigjson",
        )
    )
    api.store.put(secret("plain", {"creds": f"{AUTH_USER}:{AUTH_PASSWORD}".encode()}))
    with run_in_thread(api) as running:
        yield write_kubeconfig(tmp_path / "kubeconfig", running.url)


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param("pullsecret:argocd/regcred", id="pull-secret"),
        pytest.param("secret:argocd/plain#creds", id="secret-field"),
    ],
)
def test_credentials_from_a_secret_open_a_protected_registry(
    run_cli: Any,
    tmp_path: Path,
    auth_registry: LocalRegistry,
    unique_repo: str,
    cluster: Path,
    credentials: str,
) -> None:
    seed(
        auth_registry.url,
        unique_repo,
        [Seed("1.0.0"), Seed("1.3.0", days=1)],
        username=AUTH_USER,
        password=AUTH_PASSWORD,
    )
    conf = write_conf(tmp_path / "registries.conf", auth_registry.url)
    outcome = run_cli(
        f"{auth_registry.host}/{unique_repo}",
        "--registries-conf-path",
        str(conf),
        "--credentials",
        credentials,
        "--kubeconfig",
        str(cluster),
        "--output",
        "json",
    )
    assert outcome.code == 0, outcome.err
    assert outcome.json["tag"] == "1.3.0"
    assert AUTH_PASSWORD not in outcome.out + outcome.err


def test_a_missing_secret_is_a_clear_failure(
    run_cli: Any, tmp_path: Path, auth_registry: LocalRegistry, unique_repo: str, cluster: Path
) -> None:
    conf = write_conf(tmp_path / "registries.conf", auth_registry.url)
    outcome = run_cli(
        f"{auth_registry.host}/{unique_repo}",
        "--registries-conf-path",
        str(conf),
        "--credentials",
        "pullsecret:argocd/nope",
        "--kubeconfig",
        str(cluster),
    )
    assert outcome.code == 1
    assert "argocd/nope" in outcome.error_line
