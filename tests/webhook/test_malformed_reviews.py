"""Malformed reviews: every wrong shape admission would read gets 400 naming the JSON path.

A tenant can send any JSON the API server lets through to the webhook (and anyone who reaches
its port can send anything at all), so a wrong type, deep nesting, a lone surrogate or a body
that does not decompress must come back as a 400 with a reason, never as a 500.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry

from imageupdater.policy import ImagePolicy
from imageupdater.resolver import Resolution
from tests.webhook.reviews import PREFIX, application, body, ours, review
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.server import make_app

IMAGE_LIST = PREFIX + "image-list"
MALFORMED = "image_updater_admission_malformed_requests_total"


async def resolve(policy: ImagePolicy, current: str | None) -> Resolution:
    return Resolution(policy.image.full_name, policy.strategy, None, "9.9.9", None, ("9.9.9",))


def server_app() -> Any:
    metrics = WebhookMetrics(CollectorRegistry())
    return make_app(Admission(AdmissionSettings(), resolve), metrics, max_body=1024 * 1024)


def helm_source() -> dict[str, Any]:
    return {
        "repoURL": "https://charts.example",
        "chart": "web",
        "targetRevision": "1.0.0",
        "helm": {"parameters": [{"name": "replicas", "value": "2", "forceString": True}]},
    }


def base() -> dict[str, Any]:
    """A valid review of an Application that has every part admission reads."""
    app = application(
        ours(image_list="web=nginx:~1.27"),
        source=helm_source(),
        status={"summary": {"images": ["nginx:1.27.0"]}, "sourceType": "Helm"},
    )
    app["metadata"]["labels"] = {"team": "web"}
    old = copy.deepcopy(app)
    old["metadata"]["annotations"] = {IMAGE_LIST: "web=nginx:~1.26"}
    return review(app, operation="UPDATE", old=old)


def multi_source() -> dict[str, Any]:
    data = base()
    spec = data["request"]["object"]["spec"]
    spec["sources"] = [
        {"repoURL": "https://git.example/repo.git", "path": "app", "kustomize": {"images": []}},
        {"repoURL": "https://git.example/plugin.git", "path": "p", "plugin": {"env": []}},
    ]
    del spec["source"]
    return data


Edit = Callable[[dict[str, Any]], None]


def at(*path: str | int, value: Any, start: Callable[[], dict[str, Any]] = base) -> Any:
    """A review with ``value`` at ``path`` under ``request``."""

    def build() -> dict[str, Any]:
        data = start()
        node: Any = data["request"]
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        return data

    return build


OBJ = ("object",)
META = (*OBJ, "metadata")
SPEC = (*OBJ, "spec")
SOURCE = (*SPEC, "source")
STATUS = (*OBJ, "status")

WRONG_SHAPES = [
    pytest.param(at("kind", value="Application"), "request.kind: expected an object, got string",
                 id="a request kind that is a string is refused"),
    pytest.param(at("kind", "group", value=1), "request.kind.group: expected a string, got number",
                 id="a request kind whose group is a number is refused"),
    pytest.param(at("kind", "kind", value=["Application"]),
                 "request.kind.kind: expected a string, got array",
                 id="a request kind whose kind is an array is refused"),
    pytest.param(at("uid", value=42), "request.uid: expected a string, got number",
                 id="a uid that is a number is refused"),
    pytest.param(at("uid", value=""), "request.uid: expected a non-empty string",
                 id="an empty uid is refused"),
    pytest.param(at("operation", value=["CREATE"]), "request.operation: expected one of CREATE",
                 id="an operation that is an array is refused"),
    pytest.param(at("namespace", value={"a": 1}), "request.namespace: expected a string",
                 id="a request namespace that is an object is refused"),
    pytest.param(at("name", value=True), "request.name: expected a string, got boolean",
                 id="a request name that is a boolean is refused"),
    pytest.param(at("dryRun", value="yes"), "request.dryRun: expected a boolean, got string",
                 id="a dryRun that is a string is refused"),
    pytest.param(at("object", value=[]), "request.object: expected an object, got array",
                 id="an object that is an array is refused"),
    pytest.param(at("oldObject", value="x"), "request.oldObject: expected an object, got string",
                 id="an old object that is a string is refused"),
    pytest.param(at(*OBJ, "metadata", value="m"),
                 "request.object.metadata: expected an object, got string",
                 id="metadata that is a string is refused"),
    pytest.param(at(*META, "name", value=7), "request.object.metadata.name: expected a string",
                 id="a metadata name that is a number is refused"),
    pytest.param(at(*META, "namespace", value=False),
                 "request.object.metadata.namespace: expected a string, got boolean",
                 id="a metadata namespace that is a boolean is refused"),
    pytest.param(at(*META, "annotations", value=["a"]),
                 "request.object.metadata.annotations: expected an object, got array",
                 id="annotations that are an array are refused"),
    pytest.param(at(*META, "annotations", IMAGE_LIST, value=5),
                 f'request.object.metadata.annotations["{IMAGE_LIST}"]: expected a string, '
                 "got number",
                 id="an annotation value that is a number is refused"),
    pytest.param(at(*META, "annotations", "other", value={"nested": "x"}),
                 'request.object.metadata.annotations["other"]: expected a string, got object',
                 id="a foreign annotation value that is an object is refused"),
    pytest.param(at(*META, "labels", "team", value=None),
                 'request.object.metadata.labels["team"]: expected a string, got null',
                 id="a label value that is null is refused"),
    pytest.param(at("oldObject", "metadata", "annotations", IMAGE_LIST, value=[1]),
                 f'request.oldObject.metadata.annotations["{IMAGE_LIST}"]: expected a string',
                 id="an old object's annotation value that is an array is refused"),
    pytest.param(at("oldObject", "metadata", value=3),
                 "request.oldObject.metadata: expected an object, got number",
                 id="an old object's metadata that is a number is refused"),
    pytest.param(at(*OBJ, "spec", value="spec"), "request.object.spec: expected an object",
                 id="a spec that is a string is refused"),
    pytest.param(at(*SPEC, "project", value=1), "request.object.spec.project: expected a string",
                 id="a project that is a number is refused"),
    pytest.param(at(*SPEC, "source", value=[]),
                 "request.object.spec.source: expected an object, got array",
                 id="a source that is an array is refused"),
    pytest.param(at(*SPEC, "sources", value={}),
                 "request.object.spec.sources: expected an array, got object",
                 id="sources that are an object are refused"),
    pytest.param(at(*SPEC, "sources", value=["https://git.example"]),
                 "request.object.spec.sources[0]: expected an object, got string",
                 id="a sources entry that is a string is refused"),
    pytest.param(at(*SPEC, "sources", 1, "plugin", "env", value=[{"name": 1, "value": "x"}],
                    start=multi_source),
                 "request.object.spec.sources[1].plugin.env[0].name: expected a string",
                 id="a plugin env name that is a number in the second source is refused"),
    pytest.param(at(*SPEC, "sources", 0, "kustomize", "images", value=[None], start=multi_source),
                 "request.object.spec.sources[0].kustomize.images[0]: expected a string, got null",
                 id="a null kustomize image in the first source is refused"),
    pytest.param(at(*SOURCE, "repoURL", value=1), "request.object.spec.source.repoURL: expected a",
                 id="a repoURL that is a number is refused"),
    pytest.param(at(*SOURCE, "path", value=[]), "request.object.spec.source.path: expected a",
                 id="a path that is an array is refused"),
    pytest.param(at(*SOURCE, "chart", value={}), "request.object.spec.source.chart: expected a",
                 id="a chart that is an object is refused"),
    pytest.param(at(*SOURCE, "targetRevision", value=1.5),
                 "request.object.spec.source.targetRevision: expected a string, got number",
                 id="a target revision that is a number is refused"),
    pytest.param(at(*SOURCE, "helm", value="values.yaml"),
                 "request.object.spec.source.helm: expected an object, got string",
                 id="a helm block that is a string is refused"),
    pytest.param(at(*SOURCE, "helm", "parameters", value={"name": "x"}),
                 "request.object.spec.source.helm.parameters: expected an array, got object",
                 id="helm parameters that are an object are refused"),
    pytest.param(at(*SOURCE, "helm", "parameters", value=["image.tag=1"]),
                 "request.object.spec.source.helm.parameters[0]: expected an object, got string",
                 id="a helm parameter that is a string is refused"),
    pytest.param(at(*SOURCE, "helm", "parameters", 0, "name", value=["a"]),
                 "request.object.spec.source.helm.parameters[0].name: expected a string, got array",
                 id="a helm parameter name that is an array is refused"),
    pytest.param(at(*SOURCE, "helm", "parameters", 0, "value", value=2),
                 "request.object.spec.source.helm.parameters[0].value: expected a string",
                 id="a helm parameter value that is a number is refused"),
    pytest.param(at(*SOURCE, "helm", "parameters", 0, "forceString", value="true"),
                 "request.object.spec.source.helm.parameters[0].forceString: expected a boolean",
                 id="a helm forceString that is a string is refused"),
    pytest.param(at(*SOURCE, "kustomize", value=[]),
                 "request.object.spec.source.kustomize: expected an object, got array",
                 id="a kustomize block that is an array is refused"),
    pytest.param(at(*SOURCE, "kustomize", value={"images": "nginx:1"}),
                 "request.object.spec.source.kustomize.images: expected an array, got string",
                 id="kustomize images that are a string are refused"),
    pytest.param(at(*SOURCE, "kustomize", value={"images": ["nginx:1", 2]}),
                 "request.object.spec.source.kustomize.images[1]: expected a string, got number",
                 id="a kustomize image that is a number is refused"),
    pytest.param(at(*SOURCE, "plugin", value={"env": {"A": "b"}}),
                 "request.object.spec.source.plugin.env: expected an array, got object",
                 id="plugin env that is an object is refused"),
    pytest.param(at(*SOURCE, "plugin", value={"env": ["A=b"]}),
                 "request.object.spec.source.plugin.env[0]: expected an object, got string",
                 id="a plugin env entry that is a string is refused"),
    pytest.param(at(*SOURCE, "plugin", value={"env": [{"name": "A", "value": {}}]}),
                 "request.object.spec.source.plugin.env[0].value: expected a string, got object",
                 id="a plugin env value that is an object is refused"),
    pytest.param(at(*SOURCE, "plugin", value={"name": 3}),
                 "request.object.spec.source.plugin.name: expected a string, got number",
                 id="a plugin name that is a number is refused"),
    pytest.param(at(*OBJ, "status", value=[]), "request.object.status: expected an object",
                 id="a status that is an array is refused"),
    pytest.param(at(*STATUS, "summary", value="ok"),
                 "request.object.status.summary: expected an object, got string",
                 id="a status summary that is a string is refused"),
    pytest.param(at(*STATUS, "summary", "images", value="nginx:1"),
                 "request.object.status.summary.images: expected an array, got string",
                 id="live images that are a string are refused"),
    pytest.param(at(*STATUS, "summary", "images", value=["nginx:1", {"x": 1}]),
                 "request.object.status.summary.images[1]: expected a string, got object",
                 id="a live image that is an object is refused"),
    pytest.param(at(*STATUS, "sourceType", value={"Helm": True}),
                 "request.object.status.sourceType: expected a string, got object",
                 id="a source type that is an object is refused"),
    pytest.param(at(*STATUS, "sourceTypes", value="Helm"),
                 "request.object.status.sourceTypes: expected an array, got string",
                 id="source types that are a string are refused"),
    pytest.param(at(*STATUS, "sourceTypes", value=[["Helm"]]),
                 "request.object.status.sourceTypes[0]: expected a string, got array",
                 id="a source type entry that is an array is refused"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "reason"), WRONG_SHAPES)
def test_a_wrong_shape_is_refused_naming_its_path(
    build: Callable[[], dict[str, Any]], reason: str
) -> None:
    with pytest.raises(wire.MalformedReview) as refused:
        wire.decode(body(build()))
    assert reason in str(refused.value)


@pytest.mark.parametrize("endpoint", ["validate", "mutate"])
@pytest.mark.parametrize(("build", "reason"), WRONG_SHAPES[::7])
async def test_a_wrong_shape_gets_400_with_the_reason_over_http(
    aiohttp_client: Any, endpoint: str, build: Callable[[], dict[str, Any]], reason: str
) -> None:
    client = await aiohttp_client(server_app())
    resp = await client.post(f"/{endpoint}", data=body(build()))
    assert resp.status == 400
    assert reason in (await resp.json())["error"]
    metrics = await (await client.get("/metrics")).text()
    assert "image_updater_admission_malformed_requests_total 1.0" in metrics


def test_a_review_that_is_not_an_object_says_what_it_is() -> None:
    with pytest.raises(wire.MalformedReview, match="got string"):
        wire.decode(b'"AdmissionReview"')
    with pytest.raises(wire.MalformedReview, match="request: expected an object, got array"):
        wire.decode(body({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                          "request": []}))  # fmt: skip


def test_a_wrong_shape_outside_an_application_is_not_checked() -> None:
    """Admission reads only the name and namespace of other kinds."""
    data = review({"metadata": {"name": "p", "namespace": "ns"}, "spec": "anything"}, kind="Pod")
    data["request"]["object"]["status"] = [1, 2]
    request = wire.decode(body(data))
    assert (request.kind, request.name) == ("Pod", "p")
    bad = review({"metadata": {"name": 1}}, kind="Pod")
    with pytest.raises(wire.MalformedReview, match=r"request\.object\.metadata\.name"):
        wire.decode(body(bad))


# -- nulls: absent, as the API server would have pruned them -------------------------------


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(at(*SOURCE, "helm", value=None), id="a null helm block reads as absent"),
        pytest.param(at(*OBJ, "status", value=None), id="a null status reads as absent"),
        pytest.param(at(*OBJ, "spec", value=None), id="a null spec reads as absent"),
        pytest.param(
            at(*SOURCE, "helm", "parameters", 0, "forceString", value=None),
            id="a null forceString reads as absent",
        ),
        pytest.param(at(*META, "labels", value=None), id="null labels read as absent"),
        pytest.param(at("dryRun", value=None), id="a null dryRun reads as false"),
    ],
)
async def test_a_null_field_reads_as_absent(build: Callable[[], dict[str, Any]]) -> None:
    request = wire.decode(body(build()))
    admission = Admission(AdmissionSettings(), resolve)
    try:
        assert admission.validate(request).verdict.allowed
        assert (await admission.mutate(request)).verdict.allowed
    finally:
        await admission.close()


# -- deep nesting and lone surrogates ------------------------------------------------------


DEEP = 100_000


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * DEEP + b"]" * DEEP, id="a body nested 100000 deep is refused"),
        pytest.param(
            body(base())[:-2] + b', "extra": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}}",
            id="a review with an extra field nested 100000 deep is refused",
        ),
    ],
)
async def test_deep_nesting_gets_400(aiohttp_client: Any, raw: bytes) -> None:
    with pytest.raises(wire.MalformedReview, match="nested too deeply"):
        wire.decode(raw)
    client = await aiohttp_client(server_app())
    for endpoint in ("validate", "mutate"):
        resp = await client.post(f"/{endpoint}", data=raw)
        assert resp.status == 400
        assert "nested too deeply" in (await resp.json())["error"]


def with_surrogate(build: Callable[[], dict[str, Any]]) -> bytes:
    """The review with ``\\ud800`` escapes where ``build`` put the marker ``SURROGATE``."""
    return body(build()).replace(b"SURROGATE", b"\\ud800")


LONE_SURROGATES = [
    pytest.param(at(*META, "annotations", IMAGE_LIST, value="web=nginx:SURROGATE"),
                 f'request.object.metadata.annotations["{IMAGE_LIST}"]: expected valid Unicode',
                 id="a lone surrogate in an annotation value is refused"),
    pytest.param(at(*META, "annotations", PREFIX + "SURROGATE.allow-tags", value="any"),
                 'request.object.metadata.annotations: key "argocd-image-updater.argoproj.io/'
                 '\\ud800.allow-tags": expected valid Unicode text, got a lone surrogate \\ud800',
                 id="a lone surrogate in an annotation key is refused"),
    pytest.param(at(*STATUS, "summary", "images", value=["nginx:1", "SURROGATEnginx"]),
                 "request.object.status.summary.images[1]: expected valid Unicode text",
                 id="a lone surrogate in a live image name is refused"),
    pytest.param(at(*SOURCE, "kustomize", value={"images": ["nginx:SURROGATE"]}),
                 "request.object.spec.source.kustomize.images[0]: expected valid Unicode text",
                 id="a lone surrogate in a kustomize image is refused"),
    pytest.param(at(*SOURCE, "helm", "parameters", 0, "value", value="é SURROGATE"),
                 "request.object.spec.source.helm.parameters[0].value: expected valid Unicode "
                 "text, got a lone surrogate \\ud800 at character 2",
                 id="a lone surrogate after other non-ASCII text is refused"),
    pytest.param(at("namespace", value="SURROGATE"),
                 "request.namespace: expected valid Unicode text",
                 id="a lone surrogate in the namespace is refused"),
    pytest.param(at("uid", value="SURROGATE"), "request.uid: expected valid Unicode text",
                 id="a lone surrogate in the uid is refused"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "reason"), LONE_SURROGATES)
async def test_a_lone_surrogate_gets_400_naming_its_path(
    aiohttp_client: Any, build: Callable[[], dict[str, Any]], reason: str
) -> None:
    raw = with_surrogate(build)
    with pytest.raises(wire.MalformedReview) as refused:
        wire.decode(raw)
    assert reason in str(refused.value)
    client = await aiohttp_client(server_app())
    for endpoint in ("validate", "mutate"):
        resp = await client.post(f"/{endpoint}", data=raw)
        assert resp.status == 400
        assert reason in (await resp.json())["error"]


def test_non_ascii_text_without_surrogates_is_accepted() -> None:
    data = base()
    data["request"]["object"]["metadata"]["annotations"]["description"] = "Grüße, 世界 🚀"
    data["request"]["object"]["metadata"]["labels"]["owner"] = "zoë"
    assert wire.decode(body(data)).name == "guestbook"


# -- bodies that cannot be read ------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "payload", "reason"),
    [
        pytest.param("bogus", body(base()), "unsupported Content-Encoding 'bogus'",
                     id="a bogus content encoding is refused"),
        pytest.param("gzip", b"this is not gzip", "Can not decode content-encoding: gzip",
                     id="gzip that is not gzip is refused"),
        pytest.param("deflate", b"nor is this deflate", "Can not decode content-encoding: deflate",
                     id="deflate that is not deflate is refused"),
        pytest.param("gzip", gzip.compress(b'{"kind": "AdmissionReview"')[:-8], "not JSON",
                     id="truncated gzip that holds truncated JSON is refused"),
        pytest.param("x-gzip", gzip.compress(body(base())), "unsupported Content-Encoding",
                     id="a coding aiohttp does not decode is refused, not read as JSON"),
    ],
)  # fmt: skip
async def test_a_body_that_cannot_be_read_gets_400(
    aiohttp_client: Any, coding: str, payload: bytes, reason: str
) -> None:
    client = await aiohttp_client(server_app())
    for endpoint in ("validate", "mutate"):
        resp = await client.post(f"/{endpoint}", data=payload, headers={"Content-Encoding": coding})
        assert resp.status == 400
        assert reason in (await resp.json())["error"]
    metrics = await (await client.get("/metrics")).text()
    assert "image_updater_admission_malformed_requests_total 2.0" in metrics


async def test_two_content_encodings_are_refused(aiohttp_client: Any) -> None:
    client = await aiohttp_client(server_app())
    headers = [("Content-Encoding", "gzip"), ("Content-Encoding", "deflate")]
    resp = await client.post("/validate", data=b"{}", headers=headers)
    assert resp.status == 400  # aiohttp's parser refuses the duplicate header itself


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        pytest.param("gzip", gzip.compress, id="a gzip body is read"),
        pytest.param("deflate", zlib.compress, id="a deflate body is read"),
        pytest.param("identity", lambda raw: raw, id="an identity body is read"),
    ],
)
async def test_a_review_in_a_supported_encoding_is_answered(
    aiohttp_client: Any, coding: str, compress: Callable[[bytes], bytes]
) -> None:
    client = await aiohttp_client(server_app())
    resp = await client.post(
        "/validate", data=compress(body(base())), headers={"Content-Encoding": coding}
    )
    assert resp.status == 200
    assert (await resp.json())["response"]["allowed"] is True


async def test_a_body_cut_short_is_counted_as_malformed() -> None:
    # A runner as production builds it: aiohttp's test server cancels the handler of a lost
    # connection instead, so the handler would never see the short body.
    metrics = WebhookMetrics(CollectorRegistry())
    app = make_app(Admission(AdmissionSettings(), resolve), metrics)
    handled = asyncio.Event()

    @web.middleware
    async def announce(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            handled.set()

    app.middlewares.insert(0, announce)  # outermost: set once the handler has counted
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        reader, writer = await asyncio.open_connection(host, port)
        raw = body(base())
        writer.write(
            b"POST /validate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(raw)}\r\n\r\n".encode()
            + raw[: len(raw) // 2]
        )
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
        assert b" 500 " not in answer.split(b"\r\n", 1)[0]
        # The handler meets the short body after the socket closed.
        await asyncio.wait_for(handled.wait(), 5)
        assert metrics.registry.get_sample_value(MALFORMED) == 1.0
    finally:
        await runner.cleanup()


def test_the_reason_survives_encoding_for_the_answer_and_the_log() -> None:
    raw = with_surrogate(at(*META, "annotations", "SURROGATE", value="v"))
    with pytest.raises(wire.MalformedReview) as refused:
        wire.decode(raw)
    str(refused.value).encode("utf-8")
    assert json.loads(json.dumps({"error": str(refused.value)}))
