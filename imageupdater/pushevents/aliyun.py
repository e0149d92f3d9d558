"""Alibaba Cloud ACR (``type=aliyun-acr``): ``?secret=``; ``repository.repo_full_name``
(else ``namespace/name``), ``push_data.tag``/``digest``; the registry is ``?registry_url=``
(Enterprise Edition instances) or ``registry.<region>.aliyuncs.com``."""

from __future__ import annotations

__all__ = ["SOURCE"]

from imageupdater.pushevents.auth import check_secret
from imageupdater.pushevents.fields import load_object, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, refuse
from imageupdater.pushevents.quay import host_of
from imageupdater.pushevents.source import Source

NAME = "aliyun-acr"
_WHAT = "aliyun-acr payload"


def authenticate(delivery: Delivery, secret: str) -> None:
    check_secret(delivery.query.get("secret", ""), secret, where="?secret=", what=_WHAT)


def parse(delivery: Delivery) -> tuple[PushEvent, ...]:
    payload = load_object(delivery.body, _WHAT)
    repository = text_at(payload, "repository.repo_full_name", _WHAT)
    if not repository:
        name = text_at(payload, "repository.name", _WHAT)
        namespace = text_at(payload, "repository.namespace", _WHAT)
        repository = f"{namespace}/{name}" if namespace and name else name
    if not repository:
        refuse(f"{_WHAT}: no repository.repo_full_name (or name)", "malformed")
    tag = text_at(payload, "push_data.tag", _WHAT)
    if not tag:
        refuse(f"{_WHAT}: no push_data.tag", "malformed")
    digest = text_at(payload, "push_data.digest", _WHAT) or None
    override = delivery.query.get("registry_url", "")
    region = text_at(payload, "repository.region", _WHAT)
    if override:
        host = host_of(override, f"{_WHAT}: ?registry_url=")
    elif region:
        host = f"registry.{region}.aliyuncs.com"
    else:
        refuse(
            f"{_WHAT}: no repository.region and no ?registry_url= to name the registry",
            "malformed",
        )
    return (PushEvent(host, repository, tag, digest, type=NAME),)


SOURCE = Source(NAME, authenticate, parse)
