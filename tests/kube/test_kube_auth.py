"""Authenticating to the API server: tokens, token files (re-read as they rotate), basic
auth, impersonation, and exec credential plugins (a small Python script here) with their
caching, expiry, one re-run after a 401, and failures that never show the credential."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import InvalidKubeconfig, KubeForbidden, KubeUnavailable

from .conftest import Clock, Seen, ca_data, one_context, recorded, server_tls

Serve = Callable[..., Awaitable[str]]
V1 = "client.authentication.k8s.io/v1"

PLUGIN = """\
import json, os, sys
from pathlib import Path

state = Path(os.environ["PLUGIN_STATE"])
runs = len(list(state.glob("info-*.json"))) + 1
(state / f"info-{runs}.json").write_text(os.environ.get("KUBERNETES_EXEC_INFO", ""))
(state / f"argv-{runs}.json").write_text(json.dumps(sys.argv[1:]))
answers = json.loads((state / "answers.json").read_text())
answer = answers[min(runs, len(answers)) - 1]
if "exit" in answer:
    sys.stderr.write(answer.get("stderr", ""))
    sys.exit(answer["exit"])
print(json.dumps({"apiVersion": answer.pop("apiVersion", os.environ["PLUGIN_API"]),
                  "kind": "ExecCredential", "status": answer}))
"""


class Plugin:
    """An exec credential plugin answering from a list, one answer per run (the last repeats)."""

    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "plugin-state"
        self.state.mkdir()
        self.script = tmp_path / "plugin.py"
        self.script.write_text(PLUGIN)

    def answers(self, *answers: dict[str, Any]) -> None:
        (self.state / "answers.json").write_text(json.dumps(list(answers)))

    @property
    def runs(self) -> int:
        return len(list(self.state.glob("info-*.json")))

    def info(self, run: int) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.state / f"info-{run}.json").read_text())
        return result

    def argv(self, run: int) -> list[str]:
        result: list[str] = json.loads((self.state / f"argv-{run}.json").read_text())
        return result

    def user(self, api_version: str = V1, **extra: Any) -> dict[str, Any]:
        return {
            "exec": {
                "apiVersion": api_version,
                "command": sys.executable,
                "args": [str(self.script), "--cluster", "c1"],
                "env": [
                    {"name": "PLUGIN_STATE", "value": str(self.state)},
                    {"name": "PLUGIN_API", "value": api_version},
                ],
                "interactiveMode": "Never",
                **extra,
            }
        }


@pytest.fixture
def plugin(tmp_path: Path) -> Plugin:
    return Plugin(tmp_path)


def later(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def strict(serve: Serve, seen: Seen, *tokens: str) -> str:
    """An emulator that refuses (401) any bearer token but ``tokens``."""
    api = KubeAPI(users={t: f"user-{t}" for t in tokens}, strict_tokens=True)
    return await serve(recorded(api.app(), seen))


# ---- static credentials ----


async def test_a_token_is_sent_as_bearer_and_no_user_sends_no_authorization(
    emulator: tuple[KubeAPI, str], seen: Seen, tmp_path: Path
) -> None:
    _, url = emulator
    for user in ({"token": "abc"}, None, {}):
        path = one_context(tmp_path / "k", url, user=user)
        async with await kube.KubeClient.connect(str(path), environ={}) as client:
            await client.list(kube.APPLICATIONS, "argocd")
    assert seen.authorizations() == ["Bearer abc", None, None]


async def test_username_and_password_are_sent_as_basic_auth(
    emulator: tuple[KubeAPI, str], seen: Seen, tmp_path: Path
) -> None:
    _, url = emulator
    path = one_context(tmp_path / "k", url, user={"username": "admin", "password": "pa:ss"})
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        await client.list(kube.APPLICATIONS, "argocd")
    assert seen.authorizations() == ["Basic " + base64.b64encode(b"admin:pa:ss").decode()]


async def test_impersonation_is_sent_as_headers(
    emulator: tuple[KubeAPI, str], seen: Seen, tmp_path: Path
) -> None:
    _, url = emulator
    user = {"token": "t", "as": "jane", "as-groups": ["dev", "ops"],
            "as-user-extra": {"scopes.example/x y": ["a"]}}  # fmt: skip
    path = one_context(tmp_path / "k", url, user=user)
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        await client.list(kube.APPLICATIONS, "argocd")
    (headers,) = seen.headers
    assert headers["impersonate-user"] == ["jane"]
    assert headers["impersonate-group"] == ["dev", "ops"]
    assert headers["impersonate-extra-scopes.example%2fx%20y"] == ["a"]


async def test_a_token_file_is_reread_once_it_is_a_minute_old(
    emulator: tuple[KubeAPI, str], seen: Seen, tmp_path: Path
) -> None:
    _, url = emulator
    token = tmp_path / "token"
    token.write_text("one\n")
    clock = Clock()
    path = one_context(tmp_path / "k", url, user={"tokenFile": str(token), "token": "ignored"})
    async with await kube.KubeClient.connect(str(path), environ={}, clock=clock) as client:
        await client.list(kube.APPLICATIONS, "argocd")
        token.write_text("two\n")
        clock.advance(30)
        await client.list(kube.APPLICATIONS, "argocd")  # still the token read a moment ago
        clock.advance(31)
        await client.list(kube.APPLICATIONS, "argocd")
    assert seen.authorizations() == ["Bearer one", "Bearer one", "Bearer two"]


async def test_a_401_rereads_the_token_file_at_once_and_retries(
    serve: Serve, seen: Seen, tmp_path: Path
) -> None:
    url = await strict(serve, seen, "rotated")
    token = tmp_path / "token"
    token.write_text("expired")
    path = one_context(tmp_path / "k", url, user={"tokenFile": str(token)})
    async with await kube.KubeClient.connect(str(path), environ={}, clock=Clock()) as client:
        token.write_text("rotated")
        await client.list(kube.APPLICATIONS, "argocd")
    assert seen.authorizations() == ["Bearer expired", "Bearer rotated"]


async def test_a_revoked_token_is_forbidden_without_showing_it(
    serve: Serve, seen: Seen, tmp_path: Path
) -> None:
    url = await strict(serve, seen, "valid")
    path = one_context(tmp_path / "k", url, user={"token": "revoked-token-123"})
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        with pytest.raises(KubeForbidden) as caught:
            await client.list(kube.APPLICATIONS, "argocd")
    assert "revoked-token-123" not in str(caught.value)
    assert len(seen.headers) == 1  # a fixed token is not retried


# ---- exec plugins ----


async def test_an_exec_plugin_token_is_cached_until_it_expires(
    emulator: tuple[KubeAPI, str], seen: Seen, plugin: Plugin, tmp_path: Path
) -> None:
    _, url = emulator
    plugin.answers({"token": "plugin-token", "expirationTimestamp": later(3600)})
    path = one_context(tmp_path / "k", url, user=plugin.user())
    async with await kube.KubeClient.connect(str(path), environ={"PATH": "/usr/bin"}) as client:
        for _ in range(3):
            await client.list(kube.APPLICATIONS, "argocd")
    assert plugin.runs == 1
    assert seen.authorizations() == ["Bearer plugin-token"] * 3
    assert plugin.argv(1) == ["--cluster", "c1"]
    assert plugin.info(1) == {"apiVersion": V1, "kind": "ExecCredential",
                              "spec": {"interactive": False}}  # fmt: skip


async def test_an_expired_exec_credential_runs_the_plugin_again(
    emulator: tuple[KubeAPI, str], seen: Seen, plugin: Plugin, tmp_path: Path
) -> None:
    _, url = emulator
    plugin.answers(
        {"token": "first", "expirationTimestamp": later(-5)},
        {"token": "second", "expirationTimestamp": later(3600)},
    )
    path = one_context(
        tmp_path / "k", url, user=plugin.user("client.authentication.k8s.io/v1beta1")
    )
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        await client.list(kube.APPLICATIONS, "argocd")
        await client.list(kube.APPLICATIONS, "argocd")
    assert plugin.runs == 2
    assert seen.authorizations() == ["Bearer second", "Bearer second"]


async def test_a_401_runs_the_plugin_once_more_and_retries(
    serve: Serve, seen: Seen, plugin: Plugin, tmp_path: Path
) -> None:
    url = await strict(serve, seen, "fresh")
    plugin.answers({"token": "stale"}, {"token": "fresh"})
    path = one_context(tmp_path / "k", url, user=plugin.user())
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        await client.create(kube.APPLICATIONS, "argocd", {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "a", "namespace": "argocd"}, "spec": {"project": "default"},
        })  # fmt: skip
    assert plugin.runs == 2
    assert seen.authorizations() == ["Bearer stale", "Bearer fresh"]


async def test_a_second_401_is_forbidden_after_one_rerun(
    serve: Serve, seen: Seen, plugin: Plugin, tmp_path: Path
) -> None:
    url = await strict(serve, seen, "never-issued")
    plugin.answers({"token": "bad-1"}, {"token": "bad-2"}, {"token": "bad-3"})
    path = one_context(tmp_path / "k", url, user=plugin.user())
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        with pytest.raises(KubeForbidden) as caught:
            await client.list(kube.APPLICATIONS, "argocd")
    assert plugin.runs == 2
    assert "bad-" not in str(caught.value)


async def test_an_exec_plugin_client_certificate_authenticates(
    serve: Serve, server_cert: trustme.LeafCert, ca: trustme.CA, plugin: Plugin, tmp_path: Path
) -> None:
    url = await serve(KubeAPI().app(), server_tls(server_cert, client_ca=ca))
    leaf = ca.issue_cert("plugin-client")
    plugin.answers({
        "clientCertificateData": leaf.cert_chain_pems[0].bytes().decode(),
        "clientKeyData": leaf.private_key_pem.bytes().decode(),
    })  # fmt: skip
    user = plugin.user(provideClusterInfo=True)
    cluster = {"certificate-authority-data": ca_data(ca)}
    path = one_context(tmp_path / "k", url, cluster=cluster, user=user)
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        assert (await client.list(kube.APPLICATIONS, "argocd"))["items"] == []
    spec = plugin.info(1)["spec"]
    assert spec["cluster"]["server"] == url
    assert base64.b64decode(spec["cluster"]["certificate-authority-data"]) == ca.cert_pem.bytes()


async def test_a_missing_plugin_names_it_with_its_install_hint(tmp_path: Path) -> None:
    user = {
        "exec": {
            "apiVersion": V1,
            "command": "kubectl-no-such-plugin",
            "interactiveMode": "Never",
            "installHint": "Install it with\n  brew x",
        }
    }
    path = one_context(tmp_path / "k", "https://kube.example", user=user)
    with pytest.raises(InvalidKubeconfig) as caught:
        await kube.KubeClient.connect(str(path), environ={"PATH": str(tmp_path)})
    assert str(caught.value) == (
        f"cannot load kubeconfig {path}: user 'u': exec plugin 'kubectl-no-such-plugin' not "
        "found: Install it with brew x"
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param({"exit": 3, "stderr": "session expired\nrun login\n"},
                     "exited with status 3: session expired run login", id="fails"),
        pytest.param({"apiVersion": "client.authentication.k8s.io/v1beta1", "token": "leak"},
                     "answered with apiVersion 'client.authentication.k8s.io/v1beta1', not the "
                     "client.authentication.k8s.io/v1 it was asked for", id="wrong-version"),
        pytest.param({"clientCertificateData": "leak"},
                     "returned only one of clientCertificateData and clientKeyData",
                     id="cert-without-key"),
        pytest.param({}, "returned neither a token nor a client certificate and key",
                     id="empty"),
        pytest.param({"token": "leak", "expirationTimestamp": "soon"},
                     "returned an expirationTimestamp that is not RFC 3339", id="bad-expiry"),
    ],
)  # fmt: skip
async def test_a_plugin_answer_that_cannot_be_used_is_refused_without_quoting_it(
    plugin: Plugin, tmp_path: Path, answer: dict[str, Any], message: str
) -> None:
    plugin.answers(answer)
    path = one_context(tmp_path / "k", "https://kube.example", user=plugin.user())
    with pytest.raises(InvalidKubeconfig) as caught:
        await kube.KubeClient.connect(str(path), environ={})
    assert str(caught.value) == (
        f"cannot load kubeconfig {path}: user 'u': exec plugin {sys.executable!r} {message}"
    )


async def test_a_plugin_failing_later_makes_the_request_unavailable(
    emulator: tuple[KubeAPI, str], plugin: Plugin, tmp_path: Path
) -> None:
    _, url = emulator
    plugin.answers({"token": "t", "expirationTimestamp": later(-5)}, {"exit": 1})
    path = one_context(tmp_path / "k", url, user=plugin.user())
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        with pytest.raises(KubeUnavailable, match=r"^list applications in argocd: user 'u': exec"):
            await client.list(kube.APPLICATIONS, "argocd")
