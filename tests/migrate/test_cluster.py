"""``image-updater migrate --from-cluster`` against the API emulator, and its output applied
with the real kubectl: stored, selected and read back as the annotations say."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from imageupdater.imageupdaters import arbitrate, parse
from imageupdater.imageupdaters.model import FromResource
from tests.migrate.helpers import application, configured, migrate, same_but_aliases

CRDS = Path(__file__).resolve().parents[2] / "devcluster" / "crds"
GROUP = "argocd-image-updater.argoproj.io"
SHOP = {"image-list": "web=ghcr.io/org/web:1.x", "web.helm.image-tag": "web.tag"}
BLOG = {
    "image-list": "cms=ghcr.io/org/cms:latest",
    "update-strategy": "digest",
    "write-back-method": "git",
    "write-back-target": "kustomization",
}
TEAM = {"image-list": "svc=registry.team/svc", "svc.allow-tags": "regexp:^v"}
ANNOTATED = {("argocd", "shop"): SHOP, ("argocd", "blog"): BLOG, ("team-a", "svc"): TEAM}


def updater(name: str, namespace: str, *refs: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "ImageUpdater",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"applicationRefs": list(refs)},
    }


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeAPI, Path]]:
    api = KubeAPI(crds=(CRDS / "application-crd.yaml", CRDS / "imageupdater-crd.yaml"))
    for (namespace, name), pairs in ANNOTATED.items():
        api.store.put(application(name, pairs, namespace=namespace))
    api.store.put(application("plain", namespace="argocd"))
    with run_in_thread(api) as running:
        yield api, write_kubeconfig(tmp_path / "kubeconfig", running.url)


def test_the_default_namespace_is_read_from_the_cluster(
    capsys: pytest.CaptureFixture[str], cluster: tuple[KubeAPI, Path]
) -> None:
    _, kubeconfig = cluster
    ran = migrate(capsys, "--from-cluster", "--kubeconfig", str(kubeconfig))
    assert ran.code == 0, ran.err
    [resource] = ran.documents
    assert resource["metadata"] == {"name": "migrated", "namespace": "argocd"}
    assert [r["namePattern"] for r in resource["spec"]["applicationRefs"]] == ["blog", "shop"]
    assert ran.lines("cluster: argocd/plain: note: skipped: no argocd-image-updater")


@pytest.mark.parametrize(
    ("argv", "namespaces"),
    [
        (["-n", "team-a"], ["team-a"]),
        (["-n", "team-a", "--namespace", "argocd"], ["argocd", "team-a"]),
        (["-n", "argocd,team-a,empty"], ["argocd", "team-a"]),
        (["--all-namespaces"], ["argocd", "team-a"]),
    ],
)
def test_namespaces_are_chosen_with_flags(
    capsys: pytest.CaptureFixture[str],
    cluster: tuple[KubeAPI, Path],
    argv: list[str],
    namespaces: list[str],
) -> None:
    _, kubeconfig = cluster
    ran = migrate(capsys, "--from-cluster", "--kubeconfig", str(kubeconfig), *argv)
    assert ran.code == 0, ran.err
    assert [d["metadata"]["namespace"] for d in ran.documents] == namespaces


@pytest.mark.kubectl
def test_the_output_applied_with_kubectl_configures_every_application_the_same(
    capsys: pytest.CaptureFixture[str], cluster: tuple[KubeAPI, Path], tmp_path: Path
) -> None:
    api, kubeconfig = cluster
    ran = migrate(capsys, "--from-cluster", "--kubeconfig", str(kubeconfig), "-A")
    assert ran.code == 0, ran.err
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(kubeconfig),
        "KUBECACHEDIR": str(tmp_path / "kcache"),
    }
    done = subprocess.run(
        ["kubectl", "apply", "--validate=false", "-f", "-"],
        input=ran.out,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split("\n")) == [
        "",
        "imageupdater.argocd-image-updater.argoproj.io/migrated created",
        "imageupdater.argocd-image-updater.argoproj.io/migrated created",
    ]
    stored = api.store.list(GROUP, None, "imageupdaters")
    updaters = []
    for obj in stored:
        result = parse(obj)
        assert not result.errors and not result.warnings, result.problems
        assert result.updater is not None
        updaters.append(result.updater)
    for app in api.store.list("argoproj.io", None, "applications"):
        namespace, name = app["metadata"]["namespace"], app["metadata"]["name"]
        winner = arbitrate(updaters, app).winner
        if (namespace, name) not in ANNOTATED:
            assert winner is None, name
            continue
        assert winner is not None, name
        assert isinstance(winner.source, FromResource)
        assert same_but_aliases(
            winner.source.config, configured(ANNOTATED[namespace, name], namespace)
        )


def test_image_updaters_already_in_the_cluster_are_taken_into_account(
    capsys: pytest.CaptureFixture[str], cluster: tuple[KubeAPI, Path]
) -> None:
    api, kubeconfig = cluster
    api.store.put(updater("legacy", "argocd", {"namePattern": "*", "useAnnotations": True}))
    api.store.put(updater("aaa", "argocd", {"namePattern": "shop", "useAnnotations": True}))
    api.store.put(updater("migrated", "argocd", {"namePattern": "old", "useAnnotations": True}))
    ran = migrate(capsys, "--from-cluster", "--kubeconfig", str(kubeconfig))
    assert ran.code == 0, ran.err
    assert ran.lines(
        "cluster: argocd/blog: note: ImageUpdater 'legacy' selects it too; once this output "
        "is applied, 'migrated' acts on it"
    )
    [shop] = ran.lines("cluster: argocd/shop: warning:")
    assert "ImageUpdater 'aaa' selects it as or more specifically" in shop
    assert ran.lines(
        "cluster: ImageUpdater argocd/migrated: warning: exists already: applying this output "
        "replaces its spec"
    )


def test_an_unreachable_cluster_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9")
    ran = migrate(capsys, "--from-cluster", "--kubeconfig", str(kubeconfig))
    assert ran.code == 1
    assert ran.out == ""
    assert ran.err.startswith("image-updater migrate: ")


def test_a_bad_namespace_or_kubeconfig_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ran = migrate(capsys, "--from-cluster", "-n", "Bad_Namespace")
    assert ran.code == 2
    assert "'Bad_Namespace' is not a namespace name" in ran.err
    broken = tmp_path / "kubeconfig"
    broken.write_text("clusters: [\n")
    ran = migrate(capsys, "--from-cluster", "--kubeconfig", str(broken))
    assert ran.code == 2
    assert ran.out == ""


def test_a_cluster_without_the_image_updater_crd_is_still_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    api = KubeAPI(crds=(CRDS / "application-crd.yaml",))
    api.store.put(application("shop", SHOP))
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        ran = migrate(capsys, "--from-cluster", "--kubeconfig", str(kubeconfig))
    assert ran.code == 0, ran.err
    assert [d["kind"] for d in ran.documents] == ["ImageUpdater"]
    assert "warning" not in ran.err
