"""Small builders shared by the ImageUpdater tests: resources, Applications, parsing."""

from __future__ import annotations

import json
from typing import Any

from imageupdater.imageupdaters import ImageUpdater, ParseResult, parse
from imageupdater.imageupdaters.model import FromResource
from imageupdater.policy import AppConfig
from imageupdater.problems import Problem

NAMESPACE = "argocd"


def image(alias: str = "web", name: str = "ghcr.io/org/web:1.x", **more: Any) -> dict[str, Any]:
    return {"alias": alias, "imageName": name, **more}


def ref(pattern: str = "*", *images: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An applicationRef; with no images and no useAnnotations, one default image."""
    entry: dict[str, Any] = {"namePattern": pattern, **more}
    if images:
        entry["images"] = list(images)
    elif not more.get("useAnnotations") and "images" not in more:
        entry["images"] = [image()]
    return entry


def resource(
    *refs: dict[str, Any],
    name: str = "updater",
    namespace: str | None = NAMESPACE,
    applied: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An ImageUpdater; ``applied`` becomes kubectl's last-applied-configuration record."""
    metadata: dict[str, Any] = {"name": name, "generation": 1}
    if namespace is not None:
        metadata["namespace"] = namespace
    if applied is not None:
        record = json.dumps({"spec": applied})
        metadata["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": record}
    return {
        "apiVersion": "argocd-image-updater.argoproj.io/v1alpha1",
        "kind": "ImageUpdater",
        "metadata": metadata,
        "spec": {"applicationRefs": list(refs) or [ref()], **spec},
    }


def app(name: str, namespace: str = NAMESPACE, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


def parsed(obj: dict[str, Any]) -> ImageUpdater:
    """The parsed resource; fails the test on any error."""
    result = parse(obj)
    assert not result.errors, result.errors
    assert result.updater is not None
    return result.updater


def config(obj: dict[str, Any], index: int = 0) -> AppConfig:
    """The AppConfig of applicationRefs[index] (which must be usable)."""
    updater = parsed(obj)
    source = next(r for r in updater.refs if r.index == index).source
    assert isinstance(source, FromResource), source
    return source.config


def problem_at(result: ParseResult, path: str) -> Problem:
    """The one problem keyed ``path``."""
    found = [p for p in result.problems if p.key == path]
    assert len(found) == 1, result.problems
    return found[0]
