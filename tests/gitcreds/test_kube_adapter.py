"""KubeGitSecrets against the Kubernetes API emulator over real HTTP: decoded Secrets,
labelled lists, ConfigMaps, a missing Secret, an RBAC refusal naming the verb it needs, and
the git:repocreds / git:secret: lookups end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from devcluster.kubeapi import KubeAPI, write_kubeconfig
from imageupdater import kube
from imageupdater.errors import CredentialError, KubeUnavailable
from imageupdater.gitcreds import (
    CONFIG_MAPS,
    KubeGitSecrets,
    repository_credentials,
    secret_credentials,
    ssh_known_hosts,
)
from tests.gitcreds.fakes import (
    ARGOCD,
    PASSWORD,
    SSH_KEY,
    USERNAME,
    assert_no_secret,
    in_namespace,
    repository,
    secret,
    template,
)

LOCKED = "locked"  # the namespace the stand-in RBAC below refuses
HTTPS = "https://git.example.com/team/deploy.git"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def rbac(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A Kubernetes authorizer's answer for namespace ``locked``: 403 with a Status body."""
    parts = request.path.strip("/").split("/")
    if "namespaces" in parts and parts[parts.index("namespaces") + 1] == LOCKED:
        plural = parts[parts.index("namespaces") + 2]
        verb = "get" if len(parts) > parts.index("namespaces") + 3 else "list"
        message = (
            f'{plural} is forbidden: User "system:serviceaccount:argocd:image-updater" '
            f'cannot {verb} resource "{plural}" in API group "" in the namespace "{LOCKED}"'
        )
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": "Forbidden",
            "code": 403,
        }
        return web.json_response(body, status=403)
    return await handler(request)


@pytest.fixture
async def client(
    kube_api: KubeAPI, aiohttp_server: Any, tmp_path: Path
) -> AsyncIterator[kube.KubeClient]:
    app = kube_api.app()
    app.middlewares.append(rbac)
    server = await aiohttp_server(app)
    config = write_kubeconfig(tmp_path / "kubeconfig", str(server.make_url("")).rstrip("/"))
    async with await kube.KubeClient.connect(str(config)) as connected:
        yield connected


@pytest.fixture
def secrets(client: kube.KubeClient) -> KubeGitSecrets:
    return KubeGitSecrets(client)


async def test_a_secret_is_read_decoded(client: kube.KubeClient, secrets: KubeGitSecrets) -> None:
    body = in_namespace(secret("git-creds", {"username": USERNAME, "password": PASSWORD}), "team")
    await client.create(kube.SECRETS, "team", body)
    data = await secrets.read_secret("team", "git-creds")
    assert data == {"username": USERNAME.encode(), "password": PASSWORD.encode()}


async def test_a_missing_secret_is_a_credential_error(secrets: KubeGitSecrets) -> None:
    with pytest.raises(CredentialError) as caught:
        await secrets.read_secret("team", "absent")
    assert str(caught.value) == "secret team/absent not found"


async def test_listing_returns_only_secrets_with_the_label(
    client: kube.KubeClient, secrets: KubeGitSecrets
) -> None:
    await client.create(kube.SECRETS, ARGOCD, repository("repo-a", HTTPS))
    await client.create(kube.SECRETS, ARGOCD, template("creds-a", "https://git.example.com"))
    await client.create(kube.SECRETS, ARGOCD, secret("unrelated", {"url": HTTPS}))
    listed = await secrets.list_secrets(ARGOCD, "argocd.argoproj.io/secret-type=repository")
    assert [item["metadata"]["name"] for item in listed] == ["repo-a"]
    assert await secrets.list_secrets("empty", "argocd.argoproj.io/secret-type=repository") == []


async def test_a_configmap_is_read_and_a_missing_one_is_none(
    client: kube.KubeClient, secrets: KubeGitSecrets
) -> None:
    assert await secrets.read_config_map(ARGOCD, "argocd-ssh-known-hosts-cm") is None
    known = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmulated\n"
    await client.create(
        CONFIG_MAPS,
        ARGOCD,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": ARGOCD},
            "data": {"ssh_known_hosts": known},
        },
    )
    assert await secrets.read_config_map(ARGOCD, "argocd-ssh-known-hosts-cm") == {
        "ssh_known_hosts": known
    }
    assert await ssh_known_hosts(ARGOCD, secrets) == known


@pytest.mark.parametrize(
    ("call", "needed"),
    [
        pytest.param(
            lambda s: s.read_secret(LOCKED, "git-creds"),
            "RBAC permission to 'get' 'secrets' in namespace 'locked'",
            id="get-secret",
        ),
        pytest.param(
            lambda s: s.list_secrets(LOCKED, "argocd.argoproj.io/secret-type=repository"),
            "RBAC permission to 'list' 'secrets' in namespace 'locked'",
            id="list-secrets",
        ),
        pytest.param(
            lambda s: s.read_config_map(LOCKED, "argocd-ssh-known-hosts-cm"),
            "RBAC permission to 'get' 'configmaps' in namespace 'locked'",
            id="get-configmap",
        ),
    ],
)
async def test_an_rbac_refusal_names_the_verb_the_service_account_needs(
    secrets: KubeGitSecrets,
    call: Callable[[KubeGitSecrets], Awaitable[object]],
    needed: str,
) -> None:
    with pytest.raises(CredentialError) as caught:
        await call(secrets)
    assert needed in str(caught.value)


async def test_a_transient_api_failure_stays_transient(
    kube_api: KubeAPI, secrets: KubeGitSecrets
) -> None:
    kube_api.faults.inject(verb="list", resource="secrets", status=500)
    with pytest.raises(KubeUnavailable) as caught:
        await secrets.list_secrets(ARGOCD, "argocd.argoproj.io/secret-type=repository")
    assert caught.value.transient


async def test_repocreds_end_to_end_finds_the_project_secret_through_the_api(
    client: kube.KubeClient, secrets: KubeGitSecrets
) -> None:
    await client.create(
        kube.SECRETS,
        ARGOCD,
        repository("repo-web", HTTPS, project="web", username="web-bot", password="web-pass"),
    )
    await client.create(
        kube.SECRETS,
        ARGOCD,
        template("creds-host", "https://git.example.com", username=USERNAME, password=PASSWORD),
    )
    web_credentials = await repository_credentials(
        HTTPS, project="web", argocd_namespace=ARGOCD, secrets=secrets
    )
    assert (web_credentials.username, web_credentials.source) == (
        "web-bot",
        "repository secret argocd/repo-web",
    )
    other = await repository_credentials(
        "https://git.example.com/team/other",
        project="api",
        argocd_namespace=ARGOCD,
        secrets=secrets,
    )
    assert (other.username, other.password) == (USERNAME, PASSWORD)
    assert other.source == "credential template argocd/creds-host"


async def test_git_secret_end_to_end_refuses_without_showing_a_value(
    client: kube.KubeClient, secrets: KubeGitSecrets
) -> None:
    body = in_namespace(secret("git-ssh", {"password": PASSWORD, "sshPrivateKey": "x"}), "team")
    await client.create(kube.SECRETS, "team", body)
    with pytest.raises(CredentialError) as caught:
        await secret_credentials(
            "team", "git-ssh", repo_url="git@git.example.com:team/deploy.git", secrets=secrets
        )
    assert "secret team/git-ssh" in str(caught.value)
    assert_no_secret(str(caught.value))
    good = in_namespace(secret("git-key", {"sshPrivateKey": SSH_KEY}), "team")
    await client.create(kube.SECRETS, "team", good)
    credentials = await secret_credentials(
        "team", "git-key", repo_url="git@git.example.com:team/deploy.git", secrets=secrets
    )
    assert credentials.is_ssh
