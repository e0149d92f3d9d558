"""Which writes reach the validating webhook: the shipped `matchConditions`.

Argo CD's application controller is skipped only for its status writes (UPDATEs leaving our
annotations as they were); the Applications it creates for an app-of-apps, its UPDATEs that
change our configuration, and the ApplicationSet controller's writes are validated like
anyone's. First the expressions on their own, then through the API emulator, each
identity a bearer token, with the real webhook server counting the reviews it answers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from devcluster.kubeapi import KubeAPI
from devcluster.kubeapi.cel import Program, compile_expression
from tests.webhook.kubectl_cluster import register_webhooks, serve_webhook, webhook_certificates
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics

MANIFESTS = Path(__file__).parents[2] / "manifests" / "base" / "webhook-configurations.yaml"
PREFIX = "argocd-image-updater.argoproj.io/"
CONTROLLER = "system:serviceaccount:argocd:argocd-application-controller"
APPSET = "system:serviceaccount:argocd:argocd-applicationset-controller"
ALICE = "alice"
DENIED = 'admission webhook "validate.image-updater.argoproj.io" denied the request: '
BAD_STRATEGY = f"{PREFIX}web.update-strategy: unknown update strategy 'bogus'"


def _conditions(kind: str) -> list[tuple[str, Program]]:
    for document in yaml.safe_load_all(MANIFESTS.read_text()):
        if document["kind"] == kind:
            # The Applications' webhook comes first; a later one (the policies') has none.
            hook = document["webhooks"][0]
            return [
                (c["name"], compile_expression(c["expression"])) for c in hook["matchConditions"]
            ]
    raise AssertionError(f"no {kind} in {MANIFESTS}")


VALIDATING = _conditions("ValidatingWebhookConfiguration")
MUTATING = _conditions("MutatingWebhookConfiguration")
STATUS_WRITES = dict(VALIDATING)["not-argocd-status-writes"]


def _obj(annotations: dict[str, str] | None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "child", "namespace": "argocd"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"project": "default", **spec}}


def _env(
    user: str, operation: str, new: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    request = {"operation": operation, "userInfo": {"username": user}}
    return {"object": new, "oldObject": old, "request": request}


def test_the_mutating_webhook_skips_the_controllers_status_writes_the_same_way() -> None:
    assert dict(MUTATING)["not-argocd-status-writes"].expression == STATUS_WRITES.expression


def _validated(env: dict[str, Any]) -> bool:
    """kube-apiserver's rule: the webhook is called when every condition is true."""
    return all(program.evaluate(env) for _, program in VALIDATING)


OURS = {f"{PREFIX}image-list": "web=nginx", f"{PREFIX}web.update-strategy": "semver"}
STATUS = {"sync": {"status": "Synced"}}


@pytest.mark.parametrize(
    ("new", "old", "called"),
    [
        pytest.param(
            _obj({**OURS, "argocd.argoproj.io/refresh": "normal"}, status=STATUS),
            _obj(OURS),
            False,
            id="status-and-a-non-prefix-key-added",
        ),
        pytest.param(_obj(OURS, status=STATUS), _obj(OURS), False, id="only-status-changed"),
        pytest.param(
            _obj(OURS, project="other"), _obj(OURS), False, id="spec-changed-annotations-kept"
        ),
        pytest.param(
            _obj({**OURS, "team": "b"}), _obj({**OURS, "team": "a"}), False, id="non-prefix-change"
        ),
        pytest.param(_obj(OURS), _obj({**OURS, "team": "a"}), False, id="non-prefix-removed"),
        pytest.param(_obj(None), _obj(None), False, id="annotations-absent-in-both"),
        pytest.param(_obj({}), _obj(None), False, id="annotations-empty-and-absent"),
        pytest.param(_obj(OURS), _obj(None), True, id="annotations-absent-in-old"),
        pytest.param(_obj(OURS), _obj({"team": "a"}), True, id="all-of-ours-added"),
        pytest.param(_obj({"team": "a"}), _obj(OURS), True, id="all-of-ours-removed"),
        pytest.param(_obj(None), _obj(OURS), True, id="annotations-absent-in-new"),
        pytest.param(
            _obj({f"{PREFIX}image-list": "web=nginx"}), _obj(OURS), True, id="a-key-removed"
        ),
        pytest.param(
            _obj({**OURS, f"{PREFIX}web.allow-tags": "regexp:("}),
            _obj(OURS),
            True,
            id="a-key-added",
        ),
        pytest.param(
            _obj({**OURS, f"{PREFIX}web.update-strategy": "bogus"}),
            _obj(OURS),
            True,
            id="a-value-changed",
        ),
        pytest.param(
            _obj({f"{PREFIX}a": "1", f"{PREFIX}b": "2"}),
            _obj({f"{PREFIX}a": "2", f"{PREFIX}b": "1"}),
            True,
            id="values-swapped-between-keys",
        ),
    ],
)
def test_the_controllers_update_is_skipped_only_when_our_annotations_are_unchanged(
    new: dict[str, Any], old: dict[str, Any], called: bool
) -> None:
    assert STATUS_WRITES.evaluate(_env(CONTROLLER, "UPDATE", new, old)) is called


@pytest.mark.parametrize(
    ("user", "operation", "old"),
    [
        pytest.param(CONTROLLER, "CREATE", None, id="controller-create-old-object-null"),
        pytest.param(APPSET, "CREATE", None, id="applicationset-create"),
        pytest.param(APPSET, "UPDATE", _obj(OURS), id="applicationset-unchanged-update"),
        pytest.param(ALICE, "CREATE", None, id="user-create"),
        pytest.param(ALICE, "UPDATE", _obj(OURS), id="user-unchanged-update"),
    ],
)
def test_every_other_write_passes_the_status_write_condition(
    user: str, operation: str, old: dict[str, Any] | None
) -> None:
    env = _env(user, operation, _obj(OURS, status=STATUS), old)
    assert STATUS_WRITES.evaluate(env) is True
    assert _validated(env) is True


def test_removing_every_annotation_of_ours_is_never_validated() -> None:
    # Nothing left to be wrong: the first condition skips it, for the controller or anyone.
    for user in (CONTROLLER, ALICE):
        assert _validated(_env(user, "UPDATE", _obj({"team": "a"}), _obj(OURS))) is False


_keys = st.sampled_from([f"{PREFIX}image-list", f"{PREFIX}web.update-strategy", "team"])
_annotations = st.one_of(st.none(), st.dictionaries(_keys, st.sampled_from(["1", "2"])))


def _ours(annotations: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (annotations or {}).items() if k.startswith(PREFIX)}


@given(new=_annotations, old=_annotations, user=st.sampled_from([CONTROLLER, APPSET, ALICE]))
def test_the_condition_is_exactly_our_annotations_differ_for_the_controller(
    new: dict[str, str] | None, old: dict[str, str] | None, user: str
) -> None:
    env = _env(user, "UPDATE", _obj(new), _obj(old))
    expected = user != CONTROLLER or _ours(new) != _ours(old)
    assert STATUS_WRITES.evaluate(env) is expected
    assert _validated(env) is (expected and bool(_ours(new)))


@given(new=_annotations, user=st.sampled_from([CONTROLLER, APPSET, ALICE]))
def test_every_create_with_our_annotations_is_validated(
    new: dict[str, str] | None, user: str
) -> None:
    assert _validated(_env(user, "CREATE", _obj(new), None)) is bool(_ours(new))


# ---- through the emulator, with the requests Argo CD's controllers send ----
#
# Each identity is a bearer token the emulator maps to a username. The requests are the
# ones kubectl and Argo CD send (POST to create, server-side apply, merge patch of status,
# PUT), over HTTP with the token, because kubectl withholds a bearer token from a plain
# http:// server.

TOKENS = {CONTROLLER: "controller-token", APPSET: "appset-token", ALICE: "alice-token"}
APPS = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    warnings: tuple[str, ...]

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))


@dataclass
class Cluster:
    api: KubeAPI
    url: str
    metrics: WebhookMetrics
    runner: web.AppRunner | None

    def reviews(self, endpoint: str = "validate") -> int:
        """AdmissionReviews the webhook server answered on `endpoint` (its own metric)."""
        total = 0.0
        for family in self.metrics.registry.collect():
            if family.name == "image_updater_admission_duration_seconds":
                total += sum(
                    s.value
                    for s in family.samples
                    if s.name.endswith("_count") and s.labels.get("endpoint") == endpoint
                )
        return int(total)

    async def stop_webhook(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def send(
        self,
        user: str,
        method: str,
        path: str,
        body: Any,
        content_type: str = "application/json",
        query: str = "",
    ) -> Answer:
        headers = {"Authorization": f"Bearer {TOKENS[user]}", "Content-Type": content_type}
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method, f"{self.url}{path}{query}", data=json.dumps(body), headers=headers
            ) as resp,
        ):
            answer = await resp.json()
            return Answer(resp.status, answer, tuple(resp.headers.getall("Warning", [])))

    async def create(self, user: str, app: dict[str, Any]) -> Answer:
        """POST, as `kubectl apply` (client-side, Argo CD's default) creates a child."""
        return await self.send(user, "POST", APPS, app)

    async def apply(self, user: str, app: dict[str, Any]) -> Answer:
        """Server-side apply, as Argo CD syncs with `ServerSideApply=true` (creates or updates)."""
        name = app["metadata"]["name"]
        return await self.send(
            user,
            "PATCH",
            f"{APPS}/{name}",
            app,
            "application/apply-patch+yaml",
            "?fieldManager=argocd-controller&force=true",
        )

    async def merge_patch(self, user: str, name: str, patch: dict[str, Any]) -> Answer:
        return await self.send(
            user, "PATCH", f"{APPS}/{name}", patch, "application/merge-patch+json"
        )

    async def status_write(self, user: str, name: str, phase: str) -> Answer:
        """What the application controller sends after each sync: a merge patch of status."""
        patch = {"status": {"sync": {"status": phase}, "health": {"status": "Healthy"}}}
        return await self.merge_patch(user, name, patch)

    async def replace(self, user: str, app: dict[str, Any]) -> Answer:
        return await self.send(user, "PUT", f"{APPS}/{app['metadata']['name']}", app)

    def stored(self, name: str) -> dict[str, Any] | None:
        obj = self.api.store.get("argoproj.io", None, "applications", "argocd", name)
        return None if obj is None else copy.deepcopy(dict(obj))

    def seed(self, app: dict[str, Any]) -> None:
        """Store without admission: an Application written before these conditions shipped."""
        self.api.store.put(app)


def child(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "annotations": {PREFIX + k: v for k, v in annotations.items()},
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/r.git", "path": name, "kustomize": {}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
        },
    }


GOOD = {"image-list": "web=nginx", "web.update-strategy": "semver"}
BOGUS = {**GOOD, "web.update-strategy": "bogus"}


StartCluster = Callable[[], Awaitable[Cluster]]


@pytest.fixture
async def start_cluster(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[StartCluster]:
    clusters: list[Cluster] = []

    async def start() -> Cluster:
        bundle, context = webhook_certificates(tmp_path / "certs")
        metrics = WebhookMetrics(CollectorRegistry())
        # No resolver: mutation has nothing to look up, so only the conditions are under test.
        runner, port = await serve_webhook(Admission(AdmissionSettings()), metrics, context)
        api = KubeAPI(
            users={token: user for user, token in TOKENS.items()},
            service_addresses={("argocd", "image-updater-webhook"): f"127.0.0.1:{port}"},
        )
        server = await aiohttp_server(api.app())
        register_webhooks(api, bundle)
        cluster = Cluster(api, str(server.make_url("")).rstrip("/"), metrics, runner)
        clusters.append(cluster)
        return cluster

    yield start
    for cluster in clusters:
        await cluster.stop_webhook()


def assert_denied(answer: Answer, *expected: str) -> None:
    assert answer.status == 422, answer
    assert answer.message.startswith(DENIED + "1 problem in image-updater annotations:"), answer
    for text in expected:
        assert text in answer.message


@pytest.mark.parametrize("how", ["create", "apply"])
async def test_a_child_application_the_controller_creates_with_a_mistake_is_denied(
    start_cluster: StartCluster, how: str
) -> None:
    cluster = await start_cluster()
    send = cluster.create if how == "create" else cluster.apply
    assert_denied(await send(CONTROLLER, child("child", BOGUS)), BAD_STRATEGY)
    assert cluster.stored("child") is None
    assert cluster.reviews() == 1
    answer = await send(CONTROLLER, child("child", GOOD))
    assert answer.status == 201, answer
    assert cluster.reviews() == 2


async def test_the_controllers_status_writes_never_reach_the_webhook(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    assert (await cluster.create(CONTROLLER, child("child", GOOD))).status == 201
    # Stored before these conditions shipped, with a mistake: status writes must still pass.
    cluster.seed(child("legacy", BOGUS))
    before, mutations = cluster.reviews(), cluster.reviews("mutate")
    for name in ("child", "legacy"):
        answer = await cluster.status_write(CONTROLLER, name, "Synced")
        assert answer.status == 200, answer
    # A full UPDATE (PUT) changing spec, status and someone else's annotation, ours untouched.
    stored = cluster.stored("child")
    assert stored is not None
    stored["spec"]["source"]["kustomize"] = {"images": ["nginx:1.27.0"]}
    stored["status"]["sync"]["status"] = "OutOfSync"
    stored["metadata"]["annotations"]["argocd.argoproj.io/refresh"] = "normal"
    assert (await cluster.replace(CONTROLLER, stored)).status == 200
    # Server-side apply of the unchanged child from git, removing Argo CD's refresh marker.
    assert (await cluster.apply(CONTROLLER, child("child", GOOD))).status == 200
    patch = {"metadata": {"annotations": {"argocd.argoproj.io/refresh": None}}}
    assert (await cluster.merge_patch(CONTROLLER, "child", patch)).status == 200
    assert cluster.reviews() == before
    assert cluster.reviews("mutate") == mutations, "status writes must not wait on mutation"
    legacy = cluster.stored("legacy")
    assert legacy is not None and legacy["status"]["sync"]["status"] == "Synced"


async def test_with_the_webhook_down_only_the_controllers_status_writes_still_succeed(
    start_cluster: StartCluster,
) -> None:
    # failurePolicy is Fail: any write that reached the stopped webhook would fail.
    cluster = await start_cluster()
    cluster.seed(child("child", GOOD))
    await cluster.stop_webhook()
    answer = await cluster.status_write(CONTROLLER, "child", "Synced")
    assert answer.status == 200, answer
    unreachable = 'failed calling webhook "validate.image-updater.argoproj.io"'
    answer = await cluster.status_write(ALICE, "child", "OutOfSync")
    assert answer.status == 500 and unreachable in answer.message, answer
    changed = {**GOOD, "web.update-strategy": "digest"}
    answer = await cluster.apply(CONTROLLER, child("child", changed))
    assert answer.status == 500 and unreachable in answer.message, answer
    answer = await cluster.create(CONTROLLER, child("other", GOOD))
    assert answer.status == 500 and unreachable in answer.message, answer
    stored = cluster.stored("child")
    assert stored is not None and stored["status"]["sync"]["status"] == "Synced"


async def test_the_controllers_update_that_changes_our_annotations_is_validated(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    assert (await cluster.apply(CONTROLLER, child("child", GOOD))).status == 201
    # The parent's git now carries a mistake in the child: a changed value, an added key.
    assert_denied(await cluster.apply(CONTROLLER, child("child", BOGUS)), BAD_STRATEGY)
    typo = {**GOOD, "web.allow-tags": "regexp:("}
    assert_denied(await cluster.apply(CONTROLLER, child("child", typo)), f"{PREFIX}web.allow-tags:")
    stored = cluster.stored("child")
    assert stored is not None
    assert stored["metadata"]["annotations"] == {PREFIX + k: v for k, v in GOOD.items()}
    # A key removed is reviewed too (and, being valid, admitted).
    before = cluster.reviews()
    patch = {"metadata": {"annotations": {f"{PREFIX}web.update-strategy": None}}}
    assert (await cluster.merge_patch(CONTROLLER, "child", patch)).status == 200
    assert cluster.reviews() == before + 1


async def test_an_application_the_applicationset_controller_creates_with_a_mistake_is_denied(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    assert_denied(await cluster.create(APPSET, child("generated", BOGUS)), BAD_STRATEGY)
    assert cluster.stored("generated") is None
    assert (await cluster.create(APPSET, child("generated", GOOD))).status == 201
    # Not the application controller: its unchanged UPDATEs are reviewed as before.
    before = cluster.reviews()
    assert (await cluster.status_write(APPSET, "generated", "Synced")).status == 200
    assert cluster.reviews() == before + 1


async def test_a_users_writes_are_validated_as_before(start_cluster: StartCluster) -> None:
    cluster = await start_cluster()
    assert_denied(await cluster.create(ALICE, child("mine", BOGUS)), BAD_STRATEGY)
    assert (await cluster.create(ALICE, child("mine", GOOD))).status == 201
    assert_denied(await cluster.apply(ALICE, child("mine", BOGUS)), BAD_STRATEGY)
    # An UPDATE leaving an already stored mistake alone is reviewed, admitted and warned about.
    cluster.seed(child("legacy", BOGUS))
    before = cluster.reviews()
    answer = await cluster.status_write(ALICE, "legacy", "Synced")
    assert answer.status == 200, answer
    assert any("image-updater annotations have errors" in w for w in answer.warnings), answer
    assert cluster.reviews() == before + 1
