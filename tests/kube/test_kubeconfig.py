"""Reading kubeconfigs as kubectl does: which files, how a $KUBECONFIG list merges, which
context, relative paths, and a clear refusal (naming the context, cluster or user, never a
secret) for what kubectl refuses or we do not support."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import InvalidKubeconfig

from .conftest import Seen, b64, kubeconfig, one_context

SECRET = "s3cr3t-token-value"
V1 = "client.authentication.k8s.io/v1"


async def connect(*args: Any, environ: dict[str, str] | None = None, **kwargs: Any) -> str:
    """The server a client connected with these arguments talks to."""
    async with await kube.KubeClient.connect(*args, environ=environ or {}, **kwargs) as client:
        return client.server


def refusal(excinfo: pytest.ExceptionInfo[InvalidKubeconfig]) -> str:
    message = str(excinfo.value)
    assert SECRET not in message
    return message


# ---- which files, and how a list merges ----


async def test_kubeconfig_flag_wins_over_the_environment(tmp_path: Path) -> None:
    flag = one_context(tmp_path / "flag", "https://flag.example:6443", user=None)
    env = one_context(tmp_path / "env", "https://env.example:6443", user=None)
    server = await connect(str(flag), environ={"KUBECONFIG": str(env)})
    assert server == "https://flag.example:6443"


async def test_without_a_flag_or_list_the_home_kube_config_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_context(tmp_path / ".kube" / "config", "https://home.example", user=None)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert await connect() == "https://home.example"


async def test_a_kubeconfig_list_merges_first_definition_wins(
    tmp_path: Path, emulator: tuple[KubeAPI, str], seen: Seen
) -> None:
    _, url = emulator
    # The first file defines the cluster and the context but sets no current-context; the
    # second redefines the cluster (ignored), defines the user and sets current-context.
    first = kubeconfig(
        tmp_path / "first",
        clusters={"c": {"server": url}},
        contexts={"work": {"cluster": "c", "user": "me"}},
    )
    second = kubeconfig(
        tmp_path / "second",
        clusters={"c": {"server": "https://ignored.example"}, "other": {"server": "https://o"}},
        users={"me": {"token": "from-second"}},
        contexts={"work": {"cluster": "other"}},
        current="work",
    )
    listed = os.pathsep.join([str(tmp_path / "missing"), str(first), str(second)])
    async with await kube.KubeClient.connect(environ={"KUBECONFIG": listed}) as client:
        assert client.server == url
        await client.list(kube.APPLICATIONS, "argocd")
    assert seen.authorizations() == ["Bearer from-second"]


async def test_current_context_comes_from_the_first_file_setting_it(tmp_path: Path) -> None:
    clusters = {"a": {"server": "https://a.example"}, "b": {"server": "https://b.example"}}
    contexts = {"a": {"cluster": "a"}, "b": {"cluster": "b"}}
    first = kubeconfig(tmp_path / "1", clusters=clusters, contexts=contexts, current="a")
    second = kubeconfig(tmp_path / "2", current="b")
    listed = os.pathsep.join([str(second), str(first)])
    assert await connect(environ={"KUBECONFIG": listed}) == "https://b.example"
    listed = os.pathsep.join([str(first), str(second)])
    assert await connect(environ={"KUBECONFIG": listed}) == "https://a.example"


async def test_a_list_whose_files_are_all_missing_names_them(tmp_path: Path) -> None:
    listed = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])
    with pytest.raises(InvalidKubeconfig) as caught:
        await connect(environ={"KUBECONFIG": listed})
    assert refusal(caught) == (
        f"cannot read kubeconfig: none of {tmp_path / 'a'}, {tmp_path / 'b'} "
        "(from $KUBECONFIG) exists"
    )


def test_kubeconfig_problem_reads_the_same_files(tmp_path: Path) -> None:
    assert kube.kubeconfig_problem(str(tmp_path / "nope"), {}) == (
        f"cannot read kubeconfig {tmp_path / 'nope'}: no such file"
    )
    one_context(tmp_path / "k", "https://x", user=None)
    assert kube.kubeconfig_problem(None, {"KUBECONFIG": str(tmp_path / "k")}) is None


# ---- which context ----


async def test_a_context_can_be_chosen_over_current_context(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "k",
        clusters={"a": {"server": "https://a.example"}, "b": {"server": "https://b.example"}},
        contexts={"a": {"cluster": "a"}, "b": {"cluster": "b"}},
        current="a",
    )
    assert await connect(str(path), context="b") == "https://b.example"


@pytest.mark.parametrize(
    ("context", "current", "message"),
    [
        pytest.param("nope", "a", "context 'nope' is not defined (contexts: a)", id="asked"),
        pytest.param(None, "gone", "current-context 'gone' is not defined (contexts: a)",
                     id="current"),
        pytest.param(None, None, "no current-context is set; `kubectl config use-context NAME` "
                     "sets one (contexts: a)", id="none-set"),
    ],
)  # fmt: skip
async def test_a_missing_context_is_named(
    tmp_path: Path, context: str | None, current: str | None, message: str
) -> None:
    path = kubeconfig(
        tmp_path / "k",
        clusters={"a": {"server": "https://a.example"}},
        contexts={"a": {"cluster": "a"}},
        current=current,
    )
    with pytest.raises(InvalidKubeconfig) as caught:
        await connect(str(path), context=context)
    assert refusal(caught) == f"cannot load kubeconfig {path}: {message}"


async def test_a_file_that_is_no_kubeconfig_says_so(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("just: text\n")
    with pytest.raises(InvalidKubeconfig) as caught:
        await connect(str(path))
    assert refusal(caught) == (
        f"cannot load kubeconfig {path}: it defines no context (and no current-context)"
    )


async def test_broken_yaml_is_located_without_quoting_the_line(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text(f"users:\n- name: u\n  user:\n    token: [{SECRET}\n")
    with pytest.raises(InvalidKubeconfig) as caught:
        await connect(str(path))
    message = refusal(caught)
    assert message.startswith(f"cannot load kubeconfig {path}: {path}: not valid YAML: ")
    assert "(line " in message


# ---- relative paths resolve against the file that names them ----


async def test_a_relative_token_file_is_read_next_to_its_kubeconfig(
    tmp_path: Path, emulator: tuple[KubeAPI, str], seen: Seen
) -> None:
    _, url = emulator
    (tmp_path / "conf" / "secrets").mkdir(parents=True)
    (tmp_path / "conf" / "secrets" / "token").write_text("relative-token\n")
    path = one_context(tmp_path / "conf" / "kubeconfig", url, user={"tokenFile": "secrets/token"})
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        await client.list(kube.APPLICATIONS, "argocd")
    assert seen.authorizations() == ["Bearer relative-token"]


# ---- what kubectl refuses, and what we do not support ----

CA = b64(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")


@pytest.mark.parametrize(
    ("cluster", "user", "message"),
    [
        pytest.param({"server": ""}, None, "cluster 'c' has no server", id="no-server"),
        pytest.param({"server": "kube.example:6443"}, None,
                     "cluster 'c': server 'kube.example:6443' is not an https:// or http:// URL "
                     "with a host", id="no-scheme"),
        pytest.param({"certificate-authority": "/ca.pem", "certificate-authority-data": CA},
                     None, "cluster 'c': both certificate-authority and certificate-authority-"
                     "data are set; keep one", id="ca-twice"),
        pytest.param({"certificate-authority-data": CA, "insecure-skip-tls-verify": True}, None,
                     "cluster 'c': insecure-skip-tls-verify together with a certificate "
                     "authority is refused (as kubectl refuses it); keep one", id="insecure-ca"),
        pytest.param({"certificate-authority-data": "%%%"}, None,
                     "cluster 'c': certificate-authority-data is not base64", id="not-base64"),
        pytest.param({"proxy-url": f"socks5://me:{SECRET}@proxy:1080"}, None,
                     "cluster 'c': proxy-url 'socks5://proxy:1080': SOCKS proxies are not "
                     "supported; use an http:// or https:// proxy", id="socks"),
        pytest.param({}, {"auth-provider": {"name": "gcp", "config": {"access-token": SECRET}}},
                     "user 'u' uses auth-provider 'gcp', which is not supported (kubectl "
                     "dropped its built-in providers too): configure an exec credential plugin "
                     "instead, such as gke-gcloud-auth-plugin, kubelogin or `aws eks get-token`",
                     id="auth-provider"),
        pytest.param({}, {"token": SECRET, "username": "me", "password": SECRET},
                     "user 'u': more than one authentication method (a token and a username/"
                     "password); keep one", id="token-and-basic"),
        pytest.param({}, {"client-certificate-data": CA},
                     "user 'u': client-key (or client-key-data) is missing", id="cert-no-key"),
        pytest.param({}, {"exec": {"command": "x", "apiVersion": V1}},
                     "user 'u': exec: interactiveMode is required with client.authentication."
                     "k8s.io/v1; set it to Never", id="exec-v1-no-mode"),
        pytest.param({}, {"exec": {"command": "x", "interactiveMode": "Always",
                                   "apiVersion": "client.authentication.k8s.io/v1beta1"}},
                     "user 'u': exec: interactiveMode Always needs a terminal, which "
                     "image-updater never has; use Never (or IfAvailable)", id="exec-always"),
        pytest.param({}, {"exec": {"command": "x",
                                   "apiVersion": "client.authentication.k8s.io/v1alpha1"}},
                     "user 'u': exec: apiVersion 'client.authentication.k8s.io/v1alpha1' is not "
                     "supported; expected client.authentication.k8s.io/v1 or client."
                     "authentication.k8s.io/v1beta1", id="exec-v1alpha1"),
    ],
)  # fmt: skip
async def test_what_kubectl_refuses_is_refused_naming_the_field(
    tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any] | None, message: str
) -> None:
    fields = {"server": "https://kube.example", **cluster}
    path = one_context(tmp_path / "k", fields.pop("server"), cluster=fields, user=user)
    with pytest.raises(InvalidKubeconfig) as caught:
        await connect(str(path))
    assert refusal(caught) == f"cannot load kubeconfig {path}: {message}"


async def test_a_context_naming_an_undefined_user_is_refused(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "k",
        clusters={"c": {"server": "https://kube.example"}},
        contexts={"ctx": {"cluster": "c", "user": "typo"}},
        current="ctx",
    )
    with pytest.raises(InvalidKubeconfig) as caught:
        await connect(str(path))
    assert (
        refusal(caught)
        == f"cannot load kubeconfig {path}: context 'ctx': user 'typo' is not defined"
    )
