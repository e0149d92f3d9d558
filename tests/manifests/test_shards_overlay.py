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
