"""The cross-namespace rule for git:secret: (the one pull secrets follow) and where SSH
known hosts come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageupdater.credentials import CredentialRules
from imageupdater.errors import CredentialError, InvalidInput
from imageupdater.gitcreds import check_secret_namespace, ssh_known_hosts
from tests.gitcreds.fakes import ARGOCD, MemorySecrets

STRICT = CredentialRules()
OPEN = CredentialRules(allow_cross_namespace_secrets=True)


@pytest.mark.parametrize(
    ("app_namespace", "secret_namespace", "rules", "expected"),
    [
        pytest.param("team", None, STRICT, "team", id="bare-name-reads-the-app-namespace"),
        pytest.param("team", "team", STRICT, "team", id="own-namespace"),
        pytest.param("team", "argocd", OPEN, "argocd", id="other-namespace-when-allowed"),
        pytest.param("team", None, OPEN, "team", id="bare-name-when-allowed"),
    ],
)
def test_the_namespace_to_read(
    app_namespace: str, secret_namespace: str | None, rules: CredentialRules, expected: str
) -> None:
    assert check_secret_namespace(app_namespace, secret_namespace, rules) == expected


def test_another_namespace_is_refused_in_the_pull_secret_wording() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_secret_namespace("team", "argocd", STRICT)
    assert str(caught.value) == (
        "git credentials 'git:secret:argocd/<name>' read a secret in namespace 'argocd', but "
        "an Application may only use secrets of its own namespace 'team' (an operator can "
        "allow others with --allow-cross-namespace-secrets)"
    )


def test_a_bare_name_needs_an_application_namespace() -> None:
    with pytest.raises(InvalidInput, match="git:secret:<namespace>/<name>"):
        check_secret_namespace("", None, STRICT)


KNOWN = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFromConfigMap\n"
MOUNTED = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFromMountedFile\n"
CONFIG_MAP = (ARGOCD, "argocd-ssh-known-hosts-cm")


async def test_known_hosts_come_from_argo_cds_configmap_first(tmp_path: Path) -> None:
    mounted = tmp_path / "ssh_known_hosts"
    mounted.write_text(MOUNTED)
    secrets = MemorySecrets(config_maps={CONFIG_MAP: {"ssh_known_hosts": KNOWN}})
    assert await ssh_known_hosts(ARGOCD, secrets, mounted_path=str(mounted)) == KNOWN


@pytest.mark.parametrize(
    "config_maps",
    [
        pytest.param({}, id="no-configmap"),
        pytest.param({CONFIG_MAP: {}}, id="configmap-without-the-key"),
        pytest.param({CONFIG_MAP: {"ssh_known_hosts": "  \n"}}, id="blank-key"),
    ],
)
async def test_known_hosts_fall_back_to_the_mounted_file(
    tmp_path: Path, config_maps: dict[tuple[str, str], dict[str, str]]
) -> None:
    mounted = tmp_path / "ssh_known_hosts"
    mounted.write_text(MOUNTED)
    secrets = MemorySecrets(config_maps=config_maps)
    assert await ssh_known_hosts(ARGOCD, secrets, mounted_path=str(mounted)) == MOUNTED


async def test_no_known_hosts_anywhere_is_none(tmp_path: Path) -> None:
    secrets = MemorySecrets()
    assert await ssh_known_hosts(ARGOCD, secrets) is None
    missing = str(tmp_path / "absent")
    assert await ssh_known_hosts(ARGOCD, secrets, mounted_path=missing) is None


async def test_an_unreadable_known_hosts_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="cannot read the SSH known hosts file"):
        await ssh_known_hosts(ARGOCD, MemorySecrets(), mounted_path=str(tmp_path))
