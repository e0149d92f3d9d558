"""``image-updater hold`` / ``release`` against the API emulator, as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from imageupdater.updatepolicy.holds import parse_holds

BINARY = Path(sys.executable).with_name("image-updater")
IMAGE_LIST = "argocd-image-updater.argoproj.io/image-list"


def application(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "annotations": annotations},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/r.git", "path": name, "kustomize": {}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
        },
    }


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeAPI, Path]]:
    api = KubeAPI()
    api.store.put(application("shop", {IMAGE_LIST: "web=nginx:1.x,api=org/api:~2"}))
    with run_in_thread(api) as running:
        yield api, write_kubeconfig(tmp_path / "kubeconfig", running.url)


def cli(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BINARY), *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
    )


def stored_annotations(api: KubeAPI) -> dict[str, str]:
    app = api.store.get("argoproj.io", None, "applications", "argocd", "shop")
    assert app is not None
    return dict(app["metadata"].get("annotations") or {})


def test_hold_annotates_the_application_and_release_removes_it(
    cluster: tuple[KubeAPI, Path],
) -> None:
    api, kubeconfig = cluster
    done = cli(kubeconfig, "hold", "shop", "--reason", "incident 4711: 2.0 breaks login")
    assert done.returncode == 0, done.stderr
    assert "application argocd/shop is held: incident 4711" in done.stdout
    holds = parse_holds(stored_annotations(api)).holds
    assert holds.app == "incident 4711: 2.0 breaks login"
    assert holds.reason("web") == holds.reason("api") == holds.app
    assert stored_annotations(api)[IMAGE_LIST] == "web=nginx:1.x,api=org/api:~2"  # untouched

    done = cli(kubeconfig, "release", "shop")
    assert done.returncode == 0, done.stderr
    assert "is released" in done.stdout
    assert not parse_holds(stored_annotations(api)).holds.any


def test_an_alias_hold_holds_only_that_image(cluster: tuple[KubeAPI, Path]) -> None:
    api, kubeconfig = cluster
    done = cli(kubeconfig, "hold", "shop", "--alias", "api", "--reason", "waiting for QA")
    assert done.returncode == 0, done.stderr
    holds = parse_holds(stored_annotations(api)).holds
    assert holds.reason("api") == "waiting for QA"
    assert holds.reason("web") is None
    done = cli(kubeconfig, "release", "shop", "--alias", "api")
    assert done.returncode == 0, done.stderr
    assert not parse_holds(stored_annotations(api)).holds.any


def test_an_alias_the_image_list_lacks_is_refused_naming_the_aliases_it_has(
    cluster: tuple[KubeAPI, Path],
) -> None:
    api, kubeconfig = cluster
    done = cli(kubeconfig, "hold", "shop", "--alias", "wbe", "--reason", "x")
    assert done.returncode == 2
    assert "--alias wbe: the image list names no such alias; it has api, web" in done.stderr
    assert not parse_holds(stored_annotations(api)).holds.any
    assert api.requests.count(verb="patch", resource="applications") == 0


def test_a_hold_needs_a_reason(cluster: tuple[KubeAPI, Path]) -> None:
    _, kubeconfig = cluster
    done = cli(kubeconfig, "hold", "shop", "--reason", "  ")
    assert done.returncode == 2
    assert "a hold needs a reason" in done.stderr
    missing = subprocess.run(
        [str(BINARY), "hold", "shop", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "--reason" in missing.stderr


def test_a_missing_application_is_named(cluster: tuple[KubeAPI, Path]) -> None:
    _, kubeconfig = cluster
    done = cli(kubeconfig, "hold", "nope", "-n", "team-a", "--reason", "x")
    assert done.returncode == 2
    assert "application team-a/nope not found" in done.stderr


def test_releasing_what_is_not_held_changes_nothing_and_says_so(
    cluster: tuple[KubeAPI, Path],
) -> None:
    api, kubeconfig = cluster
    done = cli(kubeconfig, "release", "shop")
    assert done.returncode == 0, done.stderr
    assert "is not held; nothing changed" in done.stdout
    assert api.requests.count(verb="patch", resource="applications") == 0


def test_releasing_one_image_of_a_held_application_explains_the_whole_hold(
    cluster: tuple[KubeAPI, Path],
) -> None:
    _, kubeconfig = cluster
    assert cli(kubeconfig, "hold", "shop", "--reason", "freeze").returncode == 0
    done = cli(kubeconfig, "release", "shop", "--alias", "web")
    assert done.returncode == 0
    assert "the whole Application is held ('freeze'): release it without --alias" in done.stdout


def test_an_unreachable_api_server_is_a_failure_not_invalid_input(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    done = cli(kubeconfig, "hold", "shop", "--reason", "x")
    assert done.returncode == 1
    assert "application" in done.stderr and "Traceback" not in done.stderr
