"""The real kubectl (v1.32) creating built-ins with its typed commands, which send protobuf:
every create succeeds, the stored object holds what was asked for field by field, the body
kubectl sent decodes to exactly the JSON kubectl itself prints for `--dry-run=client -o json`,
and `label`, `annotate` and `delete` work on the result."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from devcluster.kubeapi import KubeAPI
from devcluster.kubeapi.protobuf import PROTOBUF, decode_object
from devcluster.kubeapi.rbac import Attributes, service_account_identity

from .conftest import Kubectl, make_kubectl, serve_in_thread

pytestmark = pytest.mark.kubectl

JSON = dict[str, Any]
NS = "argocd"  # the kubeconfig's namespace
RBAC = "rbac.authorization.k8s.io"
BLOB = bytes([0, 1, 2, 254, 255])


@dataclass
class Sent:
    method: str
    path: str
    content_type: str
    accept: str
    body: bytes


@dataclass
class Cluster:
    api: KubeAPI
    kubectl: Kubectl
    sent: list[Sent] = field(default_factory=list)

    def ok(self, *args: str) -> str:
        done = self.kubectl(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def get(self, group: str, plural: str, name: str, namespace: str = NS) -> JSON:
        obj = self.api.store.get(group, None, plural, namespace, name)
        assert obj is not None, f"{plural}/{name} was not stored"
        return obj

    def file(self, name: str, key: str = "") -> str:
        """A --from-file argument: kubectl runs in the test's directory, not the files'."""
        return f"--from-file={key + '=' if key else ''}{self.kubectl.workdir / name}"


@pytest.fixture(scope="module")
def cluster(module_dir: Path) -> Iterator[Cluster]:
    api = KubeAPI()
    app = api.app()
    sent: list[Sent] = []

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method in ("POST", "PUT"):
            body = await request.read()  # aiohttp keeps it for the handler
            sent.append(Sent(request.method, request.path, request.content_type,
                             request.headers.get("Accept", ""), body))  # fmt: skip
        return await handler(request)

    app.middlewares.append(record)
    served = serve_in_thread(app, None)
    (module_dir / "blob.bin").write_bytes(BLOB)
    (module_dir / "motd.txt").write_text("hello\n")
    try:
        yield Cluster(api, make_kubectl(module_dir, f"http://127.0.0.1:{served.port}"), sent)
    finally:
        served.stop()


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def test_create_namespace(cluster: Cluster) -> None:
    assert cluster.ok("create", "namespace", "team-a") == "namespace/team-a created"
    ns = cluster.get("", "namespaces", "team-a", "")
    assert ns["metadata"]["name"] == "team-a"
    assert isinstance(ns["metadata"]["creationTimestamp"], str)  # set, not kubectl's null
    assert ns["metadata"]["uid"]
    assert ns["spec"] == {}
    assert cluster.sent[-1].content_type == PROTOBUF


def test_create_secret_generic(cluster: Cluster) -> None:
    out = cluster.ok("create", "secret", "generic", "creds", "--from-literal=user=bob",
                     "--from-literal=password=s3 cr=t",
                     cluster.file("blob.bin", key="blob"))  # fmt: skip
    assert out == "secret/creds created"
    secret = cluster.get("", "secrets", "creds")
    assert secret["data"] == {"user": b64("bob"), "password": b64("s3 cr=t"), "blob": b64(BLOB)}
    assert secret["metadata"]["namespace"] == NS


def test_create_secret_docker_registry(cluster: Cluster) -> None:
    cluster.ok("create", "secret", "docker-registry", "pull", "--docker-server=ghcr.io",
               "--docker-username=bot", "--docker-password=tok",
               "--docker-email=b@x.io")  # fmt: skip
    secret = cluster.get("", "secrets", "pull")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert config == {
        "auths": {
            "ghcr.io": {"username": "bot", "password": "tok", "email": "b@x.io",
                        "auth": b64("bot:tok")}
        }
    }  # fmt: skip


def test_create_configmap(cluster: Cluster) -> None:
    cluster.ok("create", "configmap", "settings", "--from-literal=mode=fast",
               cluster.file("motd.txt"), cluster.file("blob.bin"))  # fmt: skip
    cm = cluster.get("", "configmaps", "settings")
    assert cm["data"] == {"mode": "fast", "motd.txt": "hello\n"}
    assert cm["binaryData"] == {"blob.bin": b64(BLOB)}  # not UTF-8, so binaryData


def test_create_serviceaccount(cluster: Cluster) -> None:
    assert cluster.ok("create", "serviceaccount", "bot") == "serviceaccount/bot created"
    sa = cluster.get("", "serviceaccounts", "bot")
    assert sa["metadata"]["namespace"] == NS
    assert set(sa) == {"kind", "apiVersion", "metadata"}


def test_create_role_and_rolebinding(cluster: Cluster) -> None:
    cluster.ok("create", "role", "reader", "--verb=get,list,watch",
               "--resource=configmaps,deployments.apps", "--resource-name=settings")  # fmt: skip
    cluster.ok("create", "rolebinding", "readers", "--role=reader",
               f"--serviceaccount={NS}:bot", "--user=alice", "--group=devs")  # fmt: skip
    role = cluster.get(RBAC, "roles", "reader")
    verbs = ["get", "list", "watch"]
    assert role["rules"] == [
        {"verbs": verbs, "apiGroups": [""], "resources": ["configmaps"],
         "resourceNames": ["settings"]},
        {"verbs": verbs, "apiGroups": ["apps"], "resources": ["deployments"],
         "resourceNames": ["settings"]},
    ]  # fmt: skip
    binding = cluster.get(RBAC, "rolebindings", "readers")
    assert binding["roleRef"] == {"apiGroup": RBAC, "kind": "Role", "name": "reader"}
    assert binding["subjects"] == [
        {"kind": "User", "apiGroup": RBAC, "name": "alice"},
        {"kind": "Group", "apiGroup": RBAC, "name": "devs"},
        {"kind": "ServiceAccount", "name": "bot", "namespace": NS},
    ]


def test_the_created_binding_is_what_rbac_reads(cluster: Cluster) -> None:
    cluster.ok("create", "serviceaccount", "reader-bot")
    cluster.ok("create", "role", "cm-reader", "--verb=get", "--resource=configmaps")
    cluster.ok("create", "rolebinding", "cm-readers", "--role=cm-reader",
               f"--serviceaccount={NS}:reader-bot")  # fmt: skip
    sa = cluster.get("", "serviceaccounts", "reader-bot")
    identity = service_account_identity(NS, "reader-bot", sa["metadata"]["uid"])
    decision = cluster.api.authorizer.authorize(
        identity, Attributes("get", resource_request=True, namespace=NS, resource="configmaps")
    )
    assert decision.allowed, decision.reason


def test_create_clusterrole_and_clusterrolebinding(cluster: Cluster) -> None:
    cluster.ok("create", "clusterrole", "metrics", "--verb=get", "--non-resource-url=/metrics")
    cluster.ok("create", "clusterrole", "combined", "--aggregation-rule=team=a")
    cluster.ok("create", "clusterrolebinding", "metrics", "--clusterrole=metrics",
               f"--serviceaccount={NS}:bot")  # fmt: skip
    assert cluster.get(RBAC, "clusterroles", "metrics", "")["rules"] == [
        {"verbs": ["get"], "nonResourceURLs": ["/metrics"]}
    ]
    combined = cluster.get(RBAC, "clusterroles", "combined", "")
    assert combined["aggregationRule"] == {"clusterRoleSelectors": [{"matchLabels": {"team": "a"}}]}
    assert combined["rules"] is None  # what kubectl sends: a nil slice without omitempty
    binding = cluster.get(RBAC, "clusterrolebindings", "metrics", "")
    assert binding["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": "metrics"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": NS}]


def test_create_service(cluster: Cluster) -> None:
    cluster.ok("create", "service", "clusterip", "web", "--tcp=80:http", "--tcp=443")
    cluster.ok("create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080")
    web_spec = cluster.get("", "services", "web")["spec"]
    assert web_spec["type"] == "ClusterIP"
    assert web_spec["selector"] == {"app": "web"}
    assert web_spec["ports"] == [
        {"name": "80-http", "protocol": "TCP", "port": 80, "targetPort": "http"},
        {"name": "443", "protocol": "TCP", "port": 443, "targetPort": 443},
    ]
    np = cluster.get("", "services", "np")["spec"]
    assert np["type"] == "NodePort"
    assert np["ports"][0]["nodePort"] == 30080


def test_create_deployment(cluster: Cluster) -> None:
    cluster.ok("create", "deployment", "app", "--image=nginx:1.27", "--replicas=2", "--port=80")
    spec = cluster.get("apps", "deployments", "app")["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "app"}}
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["ports"] == [{"containerPort": 80}]


def test_dry_run_server_stores_nothing(cluster: Cluster) -> None:
    out = cluster.ok("create", "configmap", "ghost", "--from-literal=a=b", "--dry-run=server")
    assert out == "configmap/ghost created (server dry run)"
    assert cluster.api.store.get("", None, "configmaps", NS, "ghost") is None


def test_an_existing_name_is_already_exists(cluster: Cluster) -> None:
    cluster.ok("create", "configmap", "twice")
    done = cluster.kubectl("create", "configmap", "twice")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'error: failed to create configmap: configmaps "twice" already exists'
    )


def test_label_and_annotate(cluster: Cluster) -> None:
    cluster.ok("create", "configmap", "tagged", "--from-literal=a=b")
    assert cluster.ok("label", "configmap", "tagged", "tier=gold", "team=a") == (
        "configmap/tagged labeled"
    )
    assert cluster.ok("annotate", "configmap", "tagged", "note=hi there") == (
        "configmap/tagged annotated"
    )
    cluster.ok("label", "configmap", "tagged", "tier=silver", "team-", "--overwrite")
    meta = cluster.get("", "configmaps", "tagged")["metadata"]
    assert meta["labels"] == {"tier": "silver"}
    assert meta["annotations"] == {"note": "hi there"}
    refused = cluster.kubectl("label", "configmap", "tagged", "tier=bronze")
    assert refused.returncode == 1
    assert "'tier' already has a value (silver), and --overwrite is false" in refused.stderr


def test_label_and_annotate_a_created_namespace(cluster: Cluster) -> None:
    cluster.ok("create", "namespace", "team-b")
    cluster.ok("label", "namespace", "team-b", "env=dev")
    cluster.ok("annotate", "namespace", "team-b", "owner=platform")
    meta = cluster.get("", "namespaces", "team-b", "")["metadata"]
    assert meta["labels"]["env"] == "dev"
    assert meta["annotations"] == {"owner": "platform"}


def test_delete(cluster: Cluster) -> None:
    cluster.ok("create", "secret", "generic", "doomed", "--from-literal=a=b")
    cluster.ok("create", "namespace", "doomed-ns")
    cluster.ok("create", "configmap", "inside", "-n", "doomed-ns")
    assert cluster.ok("delete", "secret", "doomed") == 'secret "doomed" deleted'
    assert cluster.ok("delete", "namespace", "doomed-ns") == 'namespace "doomed-ns" deleted'
    assert cluster.api.store.get("", None, "secrets", NS, "doomed") is None
    assert cluster.api.store.get("", None, "namespaces", "", "doomed-ns") is None
    assert cluster.api.store.get("", None, "configmaps", "doomed-ns", "inside") is None


# Each typed create sends protobuf; decoded, it is exactly the JSON kubectl prints for the same
# command with --dry-run=client -o json (Go's encoding/json of the object it would send).
CREATES = [
    ["namespace", "cmp-ns"],
    ["configmap", "cmp-cm", "--from-literal=a=b", "--from-file=blob.bin"],
    ["secret", "generic", "cmp-s", "--from-literal=k=v", "--type=Opaque"],
    ["secret", "docker-registry", "cmp-reg", "--docker-server=r.io", "--docker-username=u",
     "--docker-password=p"],
    ["serviceaccount", "cmp-sa"],
    ["role", "cmp-r", "--verb=*", "--resource=secrets", "--resource-name=x"],
    ["rolebinding", "cmp-rb", "--clusterrole=view", "--user=bob", f"--serviceaccount={NS}:x"],
    ["clusterrole", "cmp-cr", "--verb=get", "--resource=secrets", "--non-resource-url=/x"],
    ["clusterrolebinding", "cmp-crb", "--clusterrole=cmp-cr", "--group=g"],
    ["service", "clusterip", "cmp-svc", "--clusterip=None"],
    ["service", "loadbalancer", "cmp-lb", "--tcp=80:8080"],
    ["service", "externalname", "cmp-ext", "--external-name=example.com"],
    ["deployment", "cmp-dep", "--image=busybox", "--", "sleep", "1"],
    ["job", "cmp-job", "--image=busybox", "--", "echo", "hi"],
    ["poddisruptionbudget", "cmp-pdb", "--selector=app=x", "--max-unavailable=50%"],
]  # fmt: skip


@pytest.mark.parametrize("args", CREATES, ids=lambda a: " ".join(a[:2]))
def test_the_protobuf_kubectl_sends_decodes_to_the_json_it_would_send(
    cluster: Cluster, args: list[str]
) -> None:
    args = [cluster.file(a.split("=", 1)[1]) if a.startswith("--from-file=") else a for a in args]
    printed = cluster.ok("create", "--dry-run=client", "-o", "json", *args)
    before = len(cluster.sent)
    cluster.ok("create", *args)
    (sent,) = cluster.sent[before:]
    assert sent.method == "POST"
    assert sent.content_type == PROTOBUF
    assert sent.accept == f"{PROTOBUF},application/json"  # so a JSON answer is fine
    assert decode_object(sent.body) == json.loads(printed)
