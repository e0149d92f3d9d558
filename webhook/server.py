"""The webhook's HTTP layer: aiohttp routes around ``Admission``.

``POST /validate`` and ``POST /mutate`` take an AdmissionReview and answer one; a body that
is too large gets 413, one that is not an AdmissionReview gets 400 with the reason — never a
500. ``GET /healthz`` (alive), ``GET /readyz`` (serving) and ``GET /metrics`` (Prometheus).
"""

from __future__ import annotations

__all__ = ["ADMISSION", "METRICS", "make_app"]

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webhook import review
from webhook.admission import Admission, Decision
from webhook.metrics import WebhookMetrics

log = logging.getLogger("image_updater.webhook")

ADMISSION = web.AppKey("admission", Admission)
METRICS = web.AppKey("metrics", WebhookMetrics)
MAX_BODY = review.MAX_BODY


def _record(
    metrics: WebhookMetrics,
    endpoint: str,
    request: review.Request,
    decision: Decision,
    started: float,
) -> None:
    metrics.observe(endpoint, request.operation, decision.outcome, time.perf_counter() - started)
    if decision.denial_reason:
        metrics.denials.labels(decision.denial_reason).inc()
    for outcome, count in decision.mutations.items():
        if count:
            metrics.mutations.labels(outcome).inc(count)


# The codings aiohttp's parser decodes (``br``/``zstd`` only with their libraries installed;
# without them it answers 400 itself). It passes any other coding through undecoded, and
# reading such bytes as JSON would answer a question nobody asked.
_READABLE_CODINGS = frozenset({"", "identity", "gzip", "deflate", "br", "zstd"})


class _Unreadable(review.MalformedReview):
    """The body broke off or does not decode: the connection cannot carry another request."""


async def _read_body(http: web.Request) -> bytes:
    """The request body, decoded; ``MalformedReview`` when it cannot be read (413 stays)."""
    # aiohttp's parser refuses a repeated Content-Encoding itself, so one value is all.
    coding = http.headers.get(hdrs.CONTENT_ENCODING, "")
    if not (coding.isascii() and coding.strip().lower() in _READABLE_CODINGS):
        raise review.MalformedReview(
            f"unsupported Content-Encoding {coding[:64]!r}: send identity, gzip or deflate"
        )
    try:
        return await http.read()
    except web.RequestPayloadError as exc:
        # A body that does not decompress under its Content-Encoding; aiohttp's reason is
        # on the cause ("Can not decode content-encoding: gzip").
        reason = getattr(exc.__cause__, "message", None) or str(exc)
        raise _Unreadable(f"body could not be read: {reason}") from exc
    except web.HTTPBadRequest as exc:
        raise _Unreadable(f"body could not be read: {exc.text or exc.reason}") from exc
    except ConnectionResetError as exc:
        # The client closed its side before the body was complete (a truncated body).
        raise _Unreadable("body ended before its announced length") from exc


def _handler(endpoint: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(http: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        received_at = asyncio.get_running_loop().time()
        admission = http.app[ADMISSION]
        metrics = http.app[METRICS]
        try:
            body = await _read_body(http)
            request = review.decode(body)
        except web.HTTPRequestEntityTooLarge:
            metrics.malformed.inc()
            raise
        except review.MalformedReview as exc:
            metrics.malformed.inc()
            log.warning("refused a malformed review on /%s: %s", endpoint, exc)
            answer = web.json_response({"error": str(exc)}, status=400)
            if isinstance(exc, _Unreadable):
                # aiohttp drops the connection after such a body; say so, or a keep-alive
                # client sends its next review down a dead connection.
                answer.force_close()
            return answer
        if endpoint == "validate":
            decision = admission.validate(request)
        else:
            decision = await admission.mutate(request, received_at=received_at)
        _record(metrics, endpoint, request, decision, started)
        _log(endpoint, request, decision)
        return _answer(request, decision.verdict)

    return handle


_JSON = {hdrs.CONTENT_TYPE: "application/json; charset=utf-8"}


def _answer(request: review.Request, verdict: review.Verdict) -> web.Response:
    """The AdmissionReview answer: the bytes and headers ``web.json_response`` would send,
    without its content-type parsing and re-encoding on every review."""
    payload = json.dumps(review.encode(request, verdict)).encode()
    return web.Response(body=payload, headers=_JSON)


def _one_line(text: str) -> str:
    # Problems quote what the user wrote; a newline in it must not forge a log line.
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _log(endpoint: str, request: review.Request, decision: Decision) -> None:
    """One line per review; a denial names its reason and every problem behind it."""
    verdict = decision.verdict
    if verdict.allowed and not verdict.patch and not log.isEnabledFor(logging.DEBUG):
        return  # the common answer, logged at debug only
    context: dict[str, object] = {
        "uid": request.uid,
        "application": f"{request.namespace}/{request.name}",
    }
    if verdict.allowed:
        log.log(
            logging.INFO if verdict.patch else logging.DEBUG,
            "%s %s %s/%s: %s",
            endpoint,
            request.operation,
            request.namespace,
            request.name,
            decision.outcome,
            extra=context,
        )
        return
    reason = decision.denial_reason or verdict.reason or "denied"
    problems = [_one_line(p) for p in decision.problems] or [_one_line(verdict.message)]
    log.info(
        "%s %s %s/%s: %s (%s): %s",
        endpoint,
        request.operation,
        request.namespace,
        request.name,
        decision.outcome,
        reason,
        "; ".join(problems),
        extra={**context, "reason": reason},
    )


async def _healthz(http: web.Request) -> web.Response:
    return web.Response(text="ok")


# The exposition /metrics answers with when it is not this process's registry alone (the
# workers' merged one, ``webhook.workers.MetricsPeers.collect``).
Exposition = Callable[[], Awaitable[bytes]]


def _metrics_handler(
    exposition: Exposition | None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(http: web.Request) -> web.Response:
        if exposition is None:
            payload = generate_latest(http.app[METRICS].registry)
        else:
            payload = await exposition()
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle


def make_app(
    admission: Admission,
    metrics: WebhookMetrics,
    *,
    max_body: int = MAX_BODY,
    exposition: Exposition | None = None,
) -> web.Application:
    app = web.Application(client_max_size=max_body)
    app[ADMISSION] = admission
    app[METRICS] = metrics
    app.router.add_post("/validate", _handler("validate"))
    app.router.add_post("/mutate", _handler("mutate"))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _healthz)
    app.router.add_get("/metrics", _metrics_handler(exposition))

    async def close_admission(app: web.Application) -> None:
        await app[ADMISSION].close()

    app.on_cleanup.append(close_admission)
    return app
