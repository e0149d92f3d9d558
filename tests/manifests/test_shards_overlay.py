"""The ``shards`` overlay: the reconciler's replicas split the Applications (``--shards=auto``
from the Deployment's replicas) with the rights that needs, and no leader election."""

from __future__ import annotations

from imageupdater.cli import build_parser
from reconciler.options import RunOptions
from tests.manifests.conftest import find, rendered


def test_the_shards_overlay_runs_replicas_that_shard_by_their_own_replica_count() -> None:
    deployment = find(rendered("shards"), "Deployment", "image-updater-reconciler")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] >= 2
    assert "--shards=auto" in container["args"]
    assert "--leader-election" not in container["args"]
    # The Lease namespace (where the shard leases and the Deployment are) is the pod's own.
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    args = [a for a in container["args"] if not a.startswith(("--configmap-dir", "--registries"))]
    options = RunOptions.from_args(build_parser().parse_args(args), {"POD_NAMESPACE": "argocd"})
    assert options.sharding.count is None  # auto
    assert options.sharding.workload == deployment["metadata"]["name"]
    assert options.lease_namespace == "argocd"


def test_the_shards_overlay_may_renew_any_lease_and_read_only_its_own_deployment() -> None:
    role = find(rendered("shards"), "Role", "image-updater-reconciler")
    assert {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "update"],
    } in role["rules"]
    assert {
        "apiGroups": ["apps"],
        "resources": ["deployments"],
        "resourceNames": ["image-updater-reconciler"],
        "verbs": ["get"],
    } in role["rules"]
    cluster_role = find(rendered("shards"), "ClusterRole", "image-updater-reconciler")
    assert not [r for r in cluster_role["rules"] if "leases" in r["resources"]]


def test_the_default_install_keeps_one_active_replica_through_leader_election() -> None:
    deployment = find(rendered("self-signed"), "Deployment", "image-updater-reconciler")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-election" in args
    assert not [a for a in args if a.startswith("--shards")]


def test_the_shards_overlay_shares_the_registry_cache_through_argo_cds_redis() -> None:
    deployment = find(rendered("shards"), "Deployment", "image-updater-reconciler")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    # The password comes from Argo CD's Secret through the kubelet, never from the arguments.
    assert env["REDIS_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "argocd-redis", "key": "auth", "optional": True}
    }
    assert not [a for a in container["args"] if "redis" in a]
    args = [a for a in container["args"] if not a.startswith(("--configmap-dir", "--registries"))]
    options = RunOptions.from_args(
        build_parser().parse_args(args),
        {"POD_NAMESPACE": "argocd", "IMAGE_UPDATER_REDIS": env["IMAGE_UPDATER_REDIS"]["value"]},
    )
    assert options.redis is not None
    assert (options.redis.host, options.redis.port, options.redis.tls) == (
        "argocd-redis",
        6379,
        False,
    )


def test_the_shared_cache_opens_argo_cds_redis_to_the_reconciler_pods_alone() -> None:
    docs = rendered("shards")
    policy = find(docs, "NetworkPolicy", "image-updater-reconciler-to-argocd-redis")
    pod_labels = find(docs, "Deployment", "image-updater-reconciler")["spec"]["template"][
        "metadata"
    ]["labels"]
    assert policy["spec"]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "argocd-redis"}
    }
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
    (source,) = rule["from"]
    assert set(source) == {"podSelector"}  # no namespaceSelector: this namespace's pods only
    selector = source["podSelector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert selector["app.kubernetes.io/component"] == "reconciler"


def test_the_default_install_caches_alone_without_redis() -> None:
    deployment = find(rendered("self-signed"), "Deployment", "image-updater-reconciler")
    env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not env & {"IMAGE_UPDATER_REDIS", "REDIS_PASSWORD"}
