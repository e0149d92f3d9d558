"""Lean imports on the run paths: nothing imports kubernetes_asyncio (its generated client is
some 860 modules); `test` loads the Kubernetes adapter only for a pullsecret:/secret:
reference, and `lint` loads neither it nor an HTTP client.

Each command runs in a subprocess under ``-X importtime``; the network answers nothing
(127.0.0.1:1), so the commands fail fast after importing what they need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLOSED = "127.0.0.1:1"  # nothing listens: registry and API requests fail at once


def imported(argv: list[str], tmp_path: Path) -> tuple[set[str], str]:
    code = f"import sys; from imageupdater.cli import main; sys.exit(main({argv!r}))"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**env, "HOME": str(tmp_path)},
        cwd=tmp_path,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "imageupdater.cli" in modules, done.stderr[-2000:]
    return modules, done.stderr


def heavy(modules: set[str], *packages: str) -> list[str]:
    """The modules of ``packages`` (and the packages themselves) that were imported."""
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "registries.conf"
    path.write_text(
        f"registries:\n- name: closed\n  prefix: {CLOSED}\n  api_url: http://{CLOSED}\n"
    )
    return path


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://{CLOSED}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c}}]\n"
    )
    return path


def test_the_kubernetes_adapter_does_not_import_kubernetes_asyncio(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import imageupdater.kube"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "imageupdater.kube.client" in modules
    assert heavy(modules, "kubernetes_asyncio") == []


def test_test_without_a_secret_reference_loads_no_kubernetes_adapter(
    tmp_path: Path, conf: Path
) -> None:
    modules, err = imported(["test", f"{CLOSED}/team/app:1.x", "--registries-conf-path",
                             str(conf)], tmp_path)  # fmt: skip
    assert "cannot connect" in err or "failed" in err, err[-2000:]
    assert heavy(modules, "kubernetes_asyncio", "imageupdater.kube") == []


def test_test_with_a_pull_secret_loads_the_adapter_but_not_kubernetes_asyncio(
    tmp_path: Path, conf: Path, kubeconfig: Path
) -> None:
    modules, err = imported(
        ["test", f"{CLOSED}/team/app:1.x", "--registries-conf-path", str(conf),
         "--credentials", "pullsecret:argocd/regcred", "--kubeconfig", str(kubeconfig)],
        tmp_path,
    )  # fmt: skip
    assert "imageupdater.kube.client" in modules, err[-2000:]
    assert heavy(modules, "kubernetes_asyncio") == []


def test_lint_loads_no_kubernetes_adapter_and_no_http_client(tmp_path: Path) -> None:
    apps = tmp_path / "apps.yaml"
    apps.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
        "metadata:\n  name: a\n  namespace: argocd\n  annotations:\n"
        "    argocd-image-updater.argoproj.io/image-list: app=ghcr.io/org/app:1.x\n"
        "    argocd-image-updater.argoproj.io/app.pull-secret: pullsecret:argocd/regcred\n"
        "spec:\n  project: default\n"
    )
    modules, _ = imported(["lint", str(apps)], tmp_path)
    assert "imageupdater.lint" in modules
    assert heavy(modules, "kubernetes_asyncio", "imageupdater.kube", "aiohttp") == []


def test_run_once_does_not_import_kubernetes_asyncio(
    tmp_path: Path, conf: Path, kubeconfig: Path
) -> None:
    modules, err = imported(
        ["run", "--once", "--dry-run", "--kubeconfig", str(kubeconfig),
         "--registries-conf-path", str(conf)],
        tmp_path,
    )  # fmt: skip
    assert "imageupdater.kube.client" in modules, err[-2000:]
    assert heavy(modules, "kubernetes_asyncio") == []


def test_run_once_without_signatures_or_github_apps_does_not_import_cryptography(
    tmp_path: Path, conf: Path, kubeconfig: Path
) -> None:
    # cryptography is loaded when a cosign key, a GitHub App key or a registries.conf CA is
    # read, not on every start.
    modules, err = imported(
        ["run", "--once", "--dry-run", "--kubeconfig", str(kubeconfig),
         "--registries-conf-path", str(conf)],
        tmp_path,
    )  # fmt: skip
    assert "imageupdater.registry.client" in modules, err[-2000:]
    assert heavy(modules, "cryptography") == []


def test_run_once_without_git_write_back_or_signatures_loads_no_file_editor_or_cosign_code(
    tmp_path: Path, conf: Path, kubeconfig: Path
) -> None:
    # The git file editors (ruamel.yaml) load with the first git change, the cosign modules
    # with the first verification: neither is part of a start.
    modules, err = imported(
        ["run", "--once", "--dry-run", "--kubeconfig", str(kubeconfig),
         "--registries-conf-path", str(conf)],
        tmp_path,
    )  # fmt: skip
    assert "reconciler.gitwriter" in modules, err[-2000:]
    assert heavy(modules, "ruamel", "imageupdater.signatures", "imageupdater.gitops.edits") == []


def test_test_loads_no_other_commands_code_and_no_cosign_code(tmp_path: Path, conf: Path) -> None:
    modules, err = imported(["test", f"{CLOSED}/team/app:1.x", "--registries-conf-path",
                             str(conf)], tmp_path)  # fmt: skip
    assert "imageupdater.registry.client" in modules, err[-2000:]
    assert (
        heavy(
            modules,
            "reconciler",
            "webhook",
            "certs",
            "imageupdater.signatures",
            "imageupdater.updatepolicy",
        )
        == []
    )


def test_run_without_redis_does_not_import_the_redis_client(
    tmp_path: Path, conf: Path, kubeconfig: Path
) -> None:
    # The shared cache's client loads only for --redis (or IMAGE_UPDATER_REDIS).
    modules, err = imported(
        ["run", "--once", "--dry-run", "--kubeconfig", str(kubeconfig),
         "--registries-conf-path", str(conf)],
        tmp_path,
    )  # fmt: skip
    assert "imageupdater.registry.client" in modules, err[-2000:]
    assert heavy(modules, "redis", "imageupdater.registry.shared") == []


def test_run_with_redis_loads_the_shared_cache_and_survives_redis_being_down(
    tmp_path: Path, conf: Path, kubeconfig: Path
) -> None:
    modules, err = imported(
        ["run", "--once", "--dry-run", "--kubeconfig", str(kubeconfig),
         "--registries-conf-path", str(conf), "--redis", CLOSED],
        tmp_path,
    )  # fmt: skip
    assert "imageupdater.registry.shared" in modules, err[-2000:]
    assert f"Redis at redis://{CLOSED}/0 is unavailable" in err, err[-2000:]
