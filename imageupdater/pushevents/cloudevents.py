"""CloudEvents v1.0 (``type=cloudevents``), the form AWS ECR pushes take through an
EventBridge input transformer: ``?secret=`` or ``X-Webhook-Secret``.

* ``com.amazon.ecr.*`` types: ``data.repositoryName``, ``data.imageTag``,
  ``data.imageDigest``; the registry ``<registryId or account>.dkr.ecr.<region>.amazonaws.com``
  from ``source`` (``urn:aws:ecr:<region>:<account>:...`` or ``arn:aws:ecr:...``).
* other types naming a container or image: ``data.repositoryName``/``repository``,
  ``imageTag``/``tag``, ``imageDigest``/``digest``, ``registryUrl``/``registry`` or the
  host of ``source``.

``subject`` ``<repository>:<tag>`` fills what ``data`` leaves out.
"""

from __future__ import annotations

__all__ = ["SOURCE"]

from collections.abc import Mapping
from typing import Any

from imageupdater.pushevents.auth import check_secret
from imageupdater.pushevents.fields import load_object, object_at, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, quoted, refuse
from imageupdater.pushevents.quay import host_of
from imageupdater.pushevents.source import Source

NAME = "cloudevents"
_WHAT = "cloudevents payload"
SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 - a header name


def authenticate(delivery: Delivery, secret: str) -> None:
    given = delivery.query.get("secret", "") or delivery.header(SECRET_HEADER)
    check_secret(given, secret, where=f"?secret= or {SECRET_HEADER}", what=_WHAT)


def _first(data: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = text_at(data, name, _WHAT + ": data")
        if value:
            return value
    return ""


def _ecr_host(source: str, data: Mapping[str, Any]) -> str:
    if not source.startswith(("urn:aws:ecr:", "arn:aws:ecr:")):
        return ""
    parts = source.split(":")
    if len(parts) < 5 or not parts[3] or not parts[4]:
        return ""
    account = text_at(data, "registryId", _WHAT + ": data") or parts[4]
    return f"{account}.dkr.ecr.{parts[3]}.amazonaws.com"


def _source_host(source: str) -> str:
    if source.startswith(("http://", "https://")):
        return host_of(source, f"{_WHAT}: source")
    first = source.split("/", 1)[0]
    return first if "." in first else ""


def parse(delivery: Delivery) -> tuple[PushEvent, ...]:
    payload = load_object(delivery.body, _WHAT)
    if not text_at(payload, "specversion", _WHAT):
        refuse(f"{_WHAT}: no specversion (not a CloudEvent)", "malformed")
    kind = text_at(payload, "type", _WHAT)
    if not kind:
        refuse(f"{_WHAT}: no type", "malformed")
    source = text_at(payload, "source", _WHAT)
    data = object_at(payload, "data", _WHAT)
    repository = tag = ""
    subject = text_at(payload, "subject", _WHAT)
    if subject.count(":") >= 1:
        repository, tag = subject.split(":", 1)
    if kind.startswith("com.amazon.ecr."):
        repository = _first(data, "repositoryName") or repository
        tag = _first(data, "imageTag") or tag
        digest = _first(data, "imageDigest")
        host = _ecr_host(source, data)
    elif "container" in kind or "image" in kind:
        repository = _first(data, "repositoryName", "repository") or repository
        tag = _first(data, "imageTag", "tag") or tag
        digest = _first(data, "imageDigest", "digest")
        registry = _first(data, "registryUrl", "registry")
        host = host_of(registry, f"{_WHAT}: data.registryUrl") if registry else ""
        host = host or _source_host(source)
    else:
        refuse(f"{_WHAT}: type {quoted(kind)} is not an image push", "not_a_push")
    if not repository:
        refuse(f"{_WHAT}: no repository (data.repositoryName or subject)", "malformed")
    if not tag:
        refuse(f"{_WHAT}: no tag (data.imageTag or subject)", "malformed")
    if not host:
        refuse(f"{_WHAT}: source {quoted(source)} names no registry", "malformed")
    return (PushEvent(host, repository, tag, digest or None, type=NAME),)


SOURCE = Source(
    NAME,
    authenticate,
    parse,
    requires_json=True,
    extra_json_types=("application/cloudevents+json",),
)
