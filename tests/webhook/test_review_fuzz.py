"""Property: whatever JSON sits where admission reads, the answer is 200 or 400, never 500.

Valid reviews of Helm, Kustomize, plugin and multi-source Applications are taken apart at
every position they hold: a value replaced by random JSON (lone surrogates included), a
field removed, or a random extra field added. Each result goes through ``decode``, validation
and mutation directly (for a readable traceback), then over HTTP to ``/validate`` and
``/mutate`` of the real aiohttp app.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from imageupdater.errors import RegistryUnavailable
from imageupdater.policy import ImagePolicy
from imageupdater.resolver import Resolution
from imageupdater.strategies import Strategy
from tests.webhook.reviews import application, ours, review
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.server import make_app

DIGEST = "sha256:" + "a" * 64


async def resolve(policy: ImagePolicy, current: str | None) -> Resolution:
    """Resolves most images, finds nothing for some and fails for others, by name."""
    name = policy.image.full_name
    if "fail" in name:
        raise RegistryUnavailable("registry answered 503", registry="ghcr.io")
    tag = None if "none" in name else "9.9.9"
    digest = DIGEST if policy.strategy is Strategy.DIGEST and tag else None
    return Resolution(name, policy.strategy, None, tag, digest, (tag,) if tag else ())


def helm() -> dict[str, Any]:
    app = application(
        ours(
            image_list="web=nginx:~1.27, api=ghcr.io/acme/api, n=ghcr.io/acme/none",
            web__helm__image_name="web.image.repository",
            web__helm__image_tag="web.image.tag",
            api__helm__image_spec="api.image",
            api__update_strategy="digest",
        ),
        source={
            "repoURL": "https://charts.example",
            "chart": "web",
            "targetRevision": "1.0.0",
            "helm": {
                "parameters": [
                    {"name": "web.image.tag", "value": "1.27.0", "forceString": True},
                    {"name": "api.image", "value": "ghcr.io/acme/api:1.0@" + DIGEST},
                ]
            },
        },
        status={
            "summary": {"images": ["nginx:1.27.0", "ghcr.io/acme/api:1.0"]},
            "sourceType": "Helm",
        },
    )
    old = copy.deepcopy(app)
    old["metadata"]["annotations"] = {}
    return review(app, operation="UPDATE", old=old)


def kustomize() -> dict[str, Any]:
    app = application(
        ours(
            image_list="web=nginx, f=ghcr.io/acme/fail",
            web__kustomize__image_name="docker.io/nginx",
            web__allow_tags="regexp:^[0-9.]+$",
            web__ignore_tags="*-rc*",
        ),
        source={
            "repoURL": "https://git.example/repo.git",
            "path": "app",
            "kustomize": {"images": ["docker.io/nginx=nginx:1.0", "redis:7"]},
        },
    )
    app["metadata"]["labels"] = {"team": "web"}
    return review(app)


def plugin() -> dict[str, Any]:
    app = application(
        ours(
            image_list="web=nginx",
            web__plugin__image_name="WEB_IMAGE",
            web__plugin__image_tag="WEB_TAG",
        ),
        source={
            "repoURL": "https://git.example/repo.git",
            "path": "app",
            "plugin": {"name": "cmp", "env": [{"name": "WEB_TAG", "value": "1.0"}]},
        },
        status={"sourceType": "Plugin"},
    )
    return review(app, dry_run=True)


def multi_source() -> dict[str, Any]:
    app = application(ours(image_list="nginx"))
    app["spec"]["sources"] = [
        {"repoURL": "https://git.example/values.git", "ref": "values"},
        {"repoURL": "https://charts.example", "chart": "web", "helm": {"parameters": []}},
        {"repoURL": "https://git.example/repo.git", "path": "k", "kustomize": {}},
    ]
    del app["spec"]["source"]
    app["status"] = {"sourceTypes": ["Directory", "Helm", "Kustomize"]}
    return review(app)


BASES = [helm(), kustomize(), plugin(), multi_source()]


def positions(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every value's path in ``node`` (which holds exactly what admission reads, and more)."""
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += positions(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += positions(value, (*path, index))
    return found


PATHS = [positions(base) for base in BASES]
# Strings that mean something to the readers, so random shapes reach the planner.
MEANINGFUL = [
    "", "Application", "argoproj.io", "CREATE", "UPDATE", "Helm", "Kustomize", "Plugin",
    "nginx", "nginx:1.27.0", "web=nginx:~1.27", "semver", "digest", "regexp:(", "argocd", "git",
    "image.tag", "WEB_TAG", "\ud800", "a\udfffb", "é\ud83d",
]  # fmt: skip
text = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(MEANINGFUL)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=6,
)


def parent_of(data: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    """The container holding ``path``'s last part, or None when an earlier edit removed it."""
    node: Any = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, dict) and path[-1] in node:
        return node
    if isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
        return node
    return None


@st.composite
def broken_reviews(draw: st.DrawFn) -> dict[str, Any]:
    index = draw(st.integers(0, len(BASES) - 1))
    data = copy.deepcopy(BASES[index])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS[index]))
        parent = parent_of(data, path)
        if parent is None:
            continue
        action = draw(st.sampled_from(["replace", "replace", "delete", "extra"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif isinstance(parent[key], dict):
            parent[key][draw(text)] = draw(json_values)
    return data


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    metrics = WebhookMetrics(CollectorRegistry())
    admission = Admission(AdmissionSettings(resolve_timeout=0.5), resolve)
    return await aiohttp_client(make_app(admission, metrics))


def answerable(answer: dict[str, Any]) -> None:
    """An answer the HTTP layer can send: JSON all the way, encodable as UTF-8."""
    json.dumps(answer, ensure_ascii=False).encode("utf-8")


async def decide(raw: bytes) -> None:
    try:
        request = wire.decode(raw)
    except wire.MalformedReview as exc:
        str(exc).encode("utf-8")
        return
    admission = Admission(AdmissionSettings(resolve_timeout=0.5), resolve)
    try:
        answerable(wire.encode(request, admission.validate(request).verdict))
        answerable(wire.encode(request, (await admission.mutate(request)).verdict))
    finally:
        await admission.close()


def test_the_bases_are_valid_reviews_that_reach_the_planner() -> None:
    for base in BASES:
        request = wire.decode(json.dumps(base).encode())
        assert request.kind == "Application"


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=broken_reviews())
async def test_any_json_where_admission_reads_gets_200_or_400(
    client: Any, data: dict[str, Any]
) -> None:
    raw = json.dumps(data).encode()
    await decide(raw)
    for endpoint in ("validate", "mutate"):
        resp = await client.post(f"/{endpoint}", data=raw)
        assert resp.status in (200, 400), await resp.text()
        answer = await resp.json()
        if resp.status == 400:
            assert answer["error"]
        else:
            assert answer["response"]["uid"] == data["request"]["uid"]
