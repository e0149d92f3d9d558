"""The real kubectl (v1.32) against a threaded emulator: discovery, apply/get/patch/delete,
watch, runtime CRDs, and webhook denials, warnings and failures exactly as kubectl prints them."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.kubeapi import KubeAPI, RunningKubeAPI, run_in_thread
from tests.waiting import wait_until

from .conftest import (
    APP_GROUP,
    Hooks,
    Kubectl,
    application,
    configuration,
    make_kubectl,
    serve_in_thread,
    webhook,
)

pytestmark = pytest.mark.kubectl


@pytest.fixture(scope="module")
def cluster(
    module_dir: Path, server_ssl: ssl.SSLContext, ca_bundle: str
) -> Iterator[tuple[RunningKubeAPI, Kubectl]]:
    hooks = serve_in_thread(Hooks().app(), server_ssl)
    running = run_in_thread(KubeAPI())
    base = f"https://127.0.0.1:{hooks.port}"
    for route, name, extra in [
        ("/deny", "deny.example.com", {}),
        ("/warn", "warn.example.com", {}),
        ("/error", "fail.example.com", {}),
        ("/error", "ignore.example.com", {"failurePolicy": "Ignore"}),
    ]:
        selector = {"objectSelector": {"matchLabels": {"hook": name.split(".")[0]}}}
        running.api.store.put(
            configuration(
                "Validating", name, webhook(name, base + route, ca_bundle, **selector, **extra)
            )
        )
    try:
        yield running, make_kubectl(module_dir, running.url)
    finally:
        running.stop()
        hooks.stop()


def manifest(directory: Path, name: str, labels: dict[str, str], project: str = "default") -> Path:
    label_lines = "".join(f"\n    {k}: '{v}'" for k, v in labels.items()) or " {}"
    path = directory / f"{name}.yaml"
    path.write_text(
        f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n"
        f"  labels:{label_lines}\nspec:\n  project: {project}\n"
    )
    return path


def test_api_resources_lists_the_crds_with_their_short_names(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    _, kubectl = cluster
    done = kubectl("api-resources", "--api-group", APP_GROUP)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert "app,apps" in rows["applications"]
    assert "appproj,appprojs" in rows["appprojects"]
    assert done.stderr == ""


def test_apply_creates_then_reports_unchanged_then_configured(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    _, kubectl = cluster
    path = manifest(kubectl.workdir, "guestbook", {"team": "x"})
    outputs = [kubectl("apply", "--validate=false", "-f", str(path)).stdout.strip()]
    outputs.append(kubectl("apply", "--validate=false", "-f", str(path)).stdout.strip())
    path = manifest(kubectl.workdir, "guestbook", {"team": "x"}, project="other")
    outputs.append(kubectl("apply", "--validate=false", "-f", str(path)).stdout.strip())
    assert outputs == [
        "application.argoproj.io/guestbook created",
        "application.argoproj.io/guestbook unchanged",
        "application.argoproj.io/guestbook configured",
    ]


def test_get_filters_by_label_and_shows_namespaces_with_all_namespaces(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    running, kubectl = cluster
    running.api.store.put(application("labelled-a", labels={"tier": "gold"}))
    running.api.store.put(application("labelled-b", labels={"tier": "silver"}))
    gold = kubectl("get", "apps", "-l", "tier in (gold)", "-o", "name")
    everywhere = kubectl("get", "applications.argoproj.io", "-A")
    assert gold.stdout.split() == ["application.argoproj.io/labelled-a"]
    # The CRD's printer columns, as a cluster serves them (devcluster.kubeapi.tables).
    assert everywhere.stdout.splitlines()[0].split() == [
        "NAMESPACE", "NAME", "SYNC", "STATUS", "HEALTH", "STATUS"
    ]  # fmt: skip


def test_server_side_apply_works_with_validation_off(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    running, kubectl = cluster
    path = manifest(kubectl.workdir, "ssa", {"team": "y"})
    done = kubectl("apply", "--server-side", "--validate=false", "-f", str(path))
    assert done.stdout.strip() == "application.argoproj.io/ssa serverside-applied", done.stderr
    assert running.api.store.get(APP_GROUP, None, "applications", "argocd", "ssa") is not None


def test_a_stale_resource_version_in_a_patch_is_a_conflict(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    running, kubectl = cluster
    running.api.store.put(application("stale"))
    running.api.store.put(application("stale", labels={"v": "2"}))
    done = kubectl(
        "patch", "app", "stale", "--type", "merge",
        "-p", '{"metadata":{"resourceVersion":"1"},"spec":{"project":"x"}}',
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("Error from server (Conflict): ")
    assert "the object has been modified" in done.stderr


def test_a_failed_json_patch_test_is_reported_as_invalid(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    running, kubectl = cluster
    running.api.store.put(application("jp"))
    done = kubectl(
        "patch", "app", "jp", "--type", "json",
        "-p", '[{"op":"test","path":"/spec/project","value":"nope"}]',
    )  # fmt: skip
    assert done.returncode == 1
    assert "testing value failed" in done.stderr


def test_a_webhook_denial_is_printed_as_kube_apiserver_words_it(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    _, kubectl = cluster
    path = manifest(kubectl.workdir, "denied", {"hook": "deny"})
    done = kubectl("apply", "--validate=false", "-f", str(path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f'Error from server: error when creating "{path}": admission webhook "deny.example.com" '
        "denied the request: image-list is not valid"
    )


def test_webhook_warnings_are_printed_by_kubectl(cluster: tuple[RunningKubeAPI, Kubectl]) -> None:
    _, kubectl = cluster
    path = manifest(kubectl.workdir, "warned", {"hook": "warn"})
    done = kubectl("apply", "--validate=false", "-f", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["Warning: first warning", 'Warning: a "quoted" warning']
    assert done.stdout.strip() == "application.argoproj.io/warned created"


def test_a_failing_webhook_under_fail_is_an_internal_error_and_under_ignore_is_admitted(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    _, kubectl = cluster
    failing = kubectl(
        "apply", "--validate=false", "-f", str(manifest(kubectl.workdir, "f", {"hook": "fail"}))
    )
    ignored = kubectl(
        "apply", "--validate=false", "-f", str(manifest(kubectl.workdir, "i", {"hook": "ignore"}))
    )
    assert failing.returncode == 1
    assert "Error from server (InternalError): error when creating" in failing.stderr
    assert (
        'Internal error occurred: failed calling webhook "fail.example.com": failed to call '
        'webhook: Post "https://127.0.0.1:' in failing.stderr
    )
    assert ignored.returncode == 0, ignored.stderr


def test_a_crd_applied_at_runtime_is_served_to_kubectl(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    _, kubectl = cluster
    crd = kubectl.workdir / "gadget-crd.yaml"
    crd.write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: gadgets.example.com}\n"
        "spec:\n  group: example.com\n  scope: Namespaced\n"
        "  names: {plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gdg]}\n"
        "  versions: [{name: v1, served: true, storage: true}]\n"
    )
    gadget = kubectl.workdir / "gadget.yaml"
    gadget.write_text("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1}\n")
    assert kubectl("apply", "--validate=false", "-f", str(crd)).returncode == 0
    established = kubectl(
        "wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=5s"
    )
    created = kubectl("apply", "--validate=false", "-f", str(gadget))
    listed = kubectl("get", "gdg", "-o", "name")
    assert established.returncode == 0, established.stderr
    assert created.stdout.strip() == "gadget.example.com/g1 created", created.stderr
    assert listed.stdout.strip() == "gadget.example.com/g1"


def test_delete_removes_the_object(cluster: tuple[RunningKubeAPI, Kubectl]) -> None:
    running, kubectl = cluster
    running.api.store.put(application("doomed"))
    deleted = kubectl("delete", "app", "doomed")
    missing = kubectl("get", "app", "doomed")
    assert deleted.stdout.strip() == 'application.argoproj.io "doomed" deleted'
    assert missing.stderr.strip() == (
        'Error from server (NotFound): applications.argoproj.io "doomed" not found'
    )


def test_kubectl_watch_prints_objects_as_they_arrive(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    running, kubectl = cluster
    running.api.store.put(application("watched-1", labels={"watched": "yes"}))
    before = running.api.store.watchers
    proc = subprocess.Popen(
        ["kubectl", "get", "apps", "-l", "watched=yes", "--watch", "-o", "name"],
        env=kubectl.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        # kubectl lists (that printed watched-1), then opens its watch: a change made before
        # the watch is open would only show up in the next list.
        wait_until(
            lambda: running.api.store.watchers > before,
            within=10,
            what="kubectl to open its watch",
        )
        running.api.store.put(application("watched-2", labels={"watched": "yes"}))
        second = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert first.strip() == "application.argoproj.io/watched-1"
    assert second.strip() == "application.argoproj.io/watched-2"
