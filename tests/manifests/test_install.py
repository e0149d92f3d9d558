"""The install as rendered: up to date, valid against Kubernetes 1.32's schemas, safe by
construction (webhooks that cannot block Argo CD, hardened pods), and appliable with the real
kubectl into the API emulator."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from tests.manifests.conftest import MANIFESTS, OVERLAYS, find, rendered, rendered_text
from tests.reconciler.conftest import application

K8S_VERSION = "1.32"
# Kinds Kubernetes' own schemas do not describe, checked by their own rules below.
CUSTOM = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate")}


def test_install_yaml_is_the_rendered_default_overlay() -> None:
    text = (MANIFESTS / "install.yaml").read_text()
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("# "))
    assert body == rendered_text("self-signed"), "install.yaml is stale: run manifests/render.sh"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_every_overlay_validates_against_the_kubernetes_schemas(
    overlay: str,
) -> None:
    for doc in rendered(overlay):
        if (doc["apiVersion"], doc["kind"]) in CUSTOM:
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_cert_manager_objects_have_what_cert_manager_requires() -> None:
    docs = rendered("cert-manager")
    certificate = find(docs, "Certificate", "image-updater-webhook")["spec"]
    assert certificate["secretName"] == "image-updater-webhook-tls"
    assert certificate["issuerRef"] == {"kind": "Issuer", "name": "image-updater-selfsigned"}
    assert set(certificate["dnsNames"]) == {
        "image-updater-webhook.argocd.svc",
        "image-updater-webhook.argocd.svc.cluster.local",
    }
    assert find(docs, "Issuer", "image-updater-selfsigned")["spec"] == {"selfSigned": {}}
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        annotations = find(docs, kind, "image-updater")["metadata"]["annotations"]
        assert annotations == {"cert-manager.io/inject-ca-from": "argocd/image-updater-webhook"}
    admission = find(docs, "Deployment", "image-updater-admission")["spec"]["template"]["spec"]
    assert "--self-signed-certs" not in admission["containers"][0]["args"]
    mounts = {m["mountPath"]: m for m in admission["containers"][0]["volumeMounts"]}
    assert mounts["/tmp/k8s-webhook-server/serving-certs"]["readOnly"] is True
    # With cert-manager the server manages nothing: no rights on webhook configurations.
    assert not any(d["metadata"]["name"].endswith("-certs") for d in docs)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_webhooks_can_never_block_argo_cd(overlay: str) -> None:
    docs = rendered(overlay)
    mutating = find(docs, "MutatingWebhookConfiguration", "image-updater")["webhooks"][0]
    validating = find(docs, "ValidatingWebhookConfiguration", "image-updater")["webhooks"][0]
    assert mutating["failurePolicy"] == "Ignore"
    # Validation fails closed on purpose (a bad annotation must not slip in while the webhook
    # restarts); the application controller's status writes never reach it, so Argo CD keeps
    # syncing even with the webhook down.
    assert validating["failurePolicy"] == "Fail"
    for hook in (mutating, validating):
        conditions = {c["name"] for c in hook["matchConditions"]}
        assert "not-argocd-status-writes" in conditions
        assert hook["sideEffects"] == "None"
        # Above the admission server's 2 s resolve deadline, so mutation answers in time.
        assert hook["timeoutSeconds"] >= 3
        assert hook["rules"][0]["resources"] == ["applications"]
        assert hook["clientConfig"]["service"]["namespace"] == "argocd"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_hardened_and_sized(overlay: str) -> None:
    docs = rendered(overlay)
    for name in ("image-updater-admission", "image-updater-reconciler"):
        deployment = find(docs, "Deployment", name)
        sharded = overlay == "shards" and name == "image-updater-reconciler"
        assert deployment["spec"]["replicas"] == (3 if sharded else 2)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["topologySpreadConstraints"]
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"]["memory"]
            assert container["resources"]["limits"]["memory"]
            assert container["image"].startswith("ghcr.io/image-updater/image-updater:v")
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    reconciler = find(docs, "Deployment", "image-updater-reconciler")
    args = reconciler["spec"]["template"]["spec"]["containers"][0]["args"]
    # One replica active through the leader Lease, or (shards) every replica on its shards.
    assert ("--shards=auto" if overlay == "shards" else "--leader-election") in args
    pdb = find(docs, "PodDisruptionBudget", "image-updater-admission")
    assert pdb["spec"]["minAvailable"] == 1


def test_the_namespaced_overlay_has_no_cluster_wide_rights_on_applications() -> None:
    docs = rendered("namespaced")
    cluster_roles = [d for d in docs if d["kind"] == "ClusterRole"]
    assert [r["metadata"]["name"] for r in cluster_roles] == ["image-updater-admission-certs"]
    args = find(docs, "Deployment", "image-updater-reconciler")["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert "--application-namespace=$(POD_NAMESPACE)" in args
    hook = find(docs, "ValidatingWebhookConfiguration", "image-updater")["webhooks"][0]
    assert hook["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "argocd"}}


def test_upstreams_configmap_keys_reach_the_reconciler_as_upstreams_do() -> None:
    docs = rendered("self-signed")
    container = find(docs, "Deployment", "image-updater-reconciler")["spec"]["template"]["spec"][
        "containers"
    ][0]
    keys = {
        e["name"]: e["valueFrom"]["configMapKeyRef"]["key"]
        for e in container["env"]
        if "configMapKeyRef" in e.get("valueFrom", {})
    }
    assert keys["IMAGE_UPDATER_LOGLEVEL"] == "log.level"
    assert keys["GIT_COMMIT_USER"] == "git.user"
    assert keys["GIT_COMMIT_EMAIL"] == "git.email"
    assert keys["IMAGE_UPDATER_KUBE_EVENTS"] == "kube.events"
    assert keys["APPLICATIONS_API"] == "applications_api"
    volume = next(
        v
        for v in find(docs, "Deployment", "image-updater-reconciler")["spec"]["template"]["spec"][
            "volumes"
        ]
        if v["name"] == "config"
    )
    assert volume["configMap"]["name"] == "argocd-image-updater-config"
    assert {"key": "git.commit-message-template", "path": "commit.template"} in volume["configMap"][
        "items"
    ]


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_install_yaml_applies_with_kubectl_and_uninstalls_leaving_applications_as_they_were(
    tmp_path: Path,
) -> None:
    api = KubeAPI()
    app = application("web", {"image-list": "ghcr.io/acme/web"})
    api.store.put(app)
    before = copy.deepcopy(api.store.get("argoproj.io", None, "applications", "argocd", "web"))
    install = str(MANIFESTS / "install.yaml")
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        done = kubectl(kubeconfig, "apply", "--validate=false", "-n", "argocd", "-f", install)
        assert done.returncode == 0, done.stderr
        assert "deployment.apps/image-updater-reconciler created" in done.stdout
        again = kubectl(kubeconfig, "apply", "--validate=false", "-n", "argocd", "-f", install)
        assert again.returncode == 0 and "created" not in again.stdout, again.stdout
        removed = kubectl(kubeconfig, "delete", "-n", "argocd", "-f", install)
        assert removed.returncode == 0, removed.stderr
    after = api.store.get("argoproj.io", None, "applications", "argocd", "web")
    assert after == before
    assert api.store.get("apps", None, "deployments", "argocd", "image-updater-admission") is None


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_every_manifest_file_parses() -> None:
    for path in MANIFESTS.rglob("*.yaml"):
        assert _load(path) is not None, path
    assert os.access(MANIFESTS / "render.sh", os.X_OK)


def test_the_push_webhook_overlay_serves_every_registry_type_the_reconciler_knows() -> None:
    from imageupdater.cli import build_parser
    from reconciler.options import RECEIVER_SECRET_FLAGS, RunOptions

    docs = rendered("push-webhooks")
    pod = find(docs, "Deployment", "image-updater-reconciler")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {}) and e["name"].endswith("_WEBHOOK_SECRET")
    }
    # Every type's secret, under upstream's key name, and optional: a type without one is
    # simply not served.
    assert secrets == {
        flag.upper().replace("-", "_") + "_WEBHOOK_SECRET": {
            "name": "argocd-image-updater-secret",
            "key": f"webhook.{flag}-secret",
            "optional": True,
        }
        for flag in RECEIVER_SECRET_FLAGS.values()
    }
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    service = find(docs, "Service", "image-updater-push-webhook")["spec"]
    assert service["ports"][0]["targetPort"] == "webhook" and ports["webhook"] == 8082
    assert service["selector"] == {
        "app.kubernetes.io/name": "image-updater",
        "app.kubernetes.io/component": "reconciler",
    }
    policy = find(docs, "NetworkPolicy", "image-updater-push-webhook")["spec"]
    assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8082}]}]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/app/config/tls"]]["secret"]["secretName"] == "argocd-image-updater-tls"
    # The reconciler reads these arguments as the receiver on that port.
    args = [a for a in container["args"] if not a.startswith(("--configmap-dir", "--registries"))]
    options = RunOptions.from_args(
        build_parser().parse_args(args), {"GHCR_WEBHOOK_SECRET": "s3cret"}
    )
    assert options.receiver is not None and options.receiver.port == 8082
