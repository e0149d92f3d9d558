"""Building AdmissionReviews and Applications for webhook tests."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

PREFIX = "argocd-image-updater.argoproj.io/"


def application(
    annotations: dict[str, str] | None = None,
    *,
    name: str = "guestbook",
    namespace: str = "argocd",
    source: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    app: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace, "annotations": dict(annotations or {})},
        "spec": {
            "project": "default",
            "source": source
            if source is not None
            else {"repoURL": "https://git.example/repo.git", "path": "app", "kustomize": {}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "app"},
        },
    }
    if status is not None:
        app["status"] = status
    return app


def ours(**keys: str) -> dict[str, str]:
    """Annotation dict from keyword pairs, with ``__`` for ``.`` and ``_`` for ``-``."""
    return {PREFIX + k.replace("__", ".").replace("_", "-"): v for k, v in keys.items()}


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    version: str = "v1",
    dry_run: bool = False,
    kind: str = "Application",
    group: str = "argoproj.io",
) -> dict[str, Any]:
    meta = (obj or old or {}).get("metadata", {})
    return {
        "apiVersion": f"admission.k8s.io/{version}",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": group, "version": "v1alpha1", "kind": kind},
            "resource": {"group": group, "version": "v1alpha1", "resource": "applications"},
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "operation": operation,
            "userInfo": {"username": "tester"},
            "object": copy.deepcopy(obj),
            "oldObject": copy.deepcopy(old),
            "dryRun": dry_run,
        },
    }


def body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()
