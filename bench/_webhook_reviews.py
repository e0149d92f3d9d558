"""Realistic AdmissionReview bodies for the webhook benchmark (no I/O).

Argo CD Applications as the API server hands them to a webhook: Helm or Kustomize sources,
sync policy, finalizers, labels, and (for stored objects) a status with the sync and health
state, ``summary.images`` and resources; 1–3 images per Application under
image-updater annotations. Reviews are 3–9 KB of JSON, one compact document per line in the
files wrk reads.
"""

from __future__ import annotations

__all__ = [
    "application",
    "mutation_bodies",
    "update_policies",
    "validation_bodies",
    "write_bodies",
]

import copy
import datetime as dt
import json
import random
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PREFIX = "argocd-image-updater.argoproj.io/"
_BASE = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)


def _stamp(rng: random.Random) -> str:
    return (_BASE + dt.timedelta(seconds=rng.randrange(90 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _helm_source(name: str, rng: random.Random) -> dict[str, Any]:
    return {
        "repoURL": "https://charts.example.com/platform",
        "chart": name,
        "targetRevision": f"{rng.randrange(1, 4)}.{rng.randrange(20)}.{rng.randrange(9)}",
        "helm": {
            "releaseName": name,
            "valueFiles": ["values.yaml", "values-prod.yaml", f"values-{name}.yaml"],
            "parameters": [
                {"name": "replicaCount", "value": str(rng.randrange(2, 9))},
                {"name": "resources.requests.cpu", "value": "250m"},
                {"name": "ingress.hosts[0].host", "value": f"{name}.apps.example.com"},
            ],
        },
    }


def _kustomize_source(name: str, rng: random.Random) -> dict[str, Any]:
    return {
        "repoURL": "https://git.example.com/platform/deploy.git",
        "path": f"apps/{name}/overlays/prod",
        "targetRevision": "main",
        "kustomize": {
            "namePrefix": "prod-",
            "commonLabels": {"team": f"team-{rng.randrange(12)}", "tier": "backend"},
            "commonAnnotations": {"owner": f"{name}@example.com"},
        },
    }


def _resources(name: str, namespace: str) -> list[dict[str, Any]]:
    kinds = [
        ("", "v1", "Service"),
        ("", "v1", "ConfigMap"),
        ("apps", "v1", "Deployment"),
        ("networking.k8s.io", "v1", "Ingress"),
    ]
    out: list[dict[str, Any]] = []
    for group, version, kind in kinds:
        entry: dict[str, Any] = {
            "version": version,
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "status": "Synced",
        }
        if group:
            entry["group"] = group
        if kind in ("Deployment", "Service", "Ingress"):
            entry["health"] = {"status": "Healthy"}
        out.append(entry)
    return out


def application(
    name: str,
    ours: dict[str, str],
    *,
    helm: bool,
    live: Sequence[str],
    rng: random.Random,
    status: bool = True,
) -> dict[str, Any]:
    """An Argo CD Application as the API server hands it to a webhook (3–4 KB as JSON)."""
    namespace = f"{name}-prod"
    source = _helm_source(name, rng) if helm else _kustomize_source(name, rng)
    spec: dict[str, Any] = {
        "project": f"team-{rng.randrange(12)}",
        "source": source,
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
            "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}},
        },
        "revisionHistoryLimit": 10,
    }
    app: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "uid": str(uuid.UUID(int=rng.getrandbits(128))),
            "resourceVersion": str(rng.randrange(10**6, 10**8)),
            "generation": rng.randrange(1, 400),
            "creationTimestamp": _stamp(rng),
            "labels": {"app.kubernetes.io/part-of": "platform", "team": spec["project"]},
            "annotations": {
                **ours,
                "argocd.argoproj.io/sync-wave": str(rng.randrange(-2, 5)),
                "notifications.argoproj.io/subscribe.on-sync-failed.slack": "platform-alerts",
            },
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": spec,
    }
    if status:
        revision = _sha(rng)
        app["status"] = {
            "sync": {
                "status": "Synced",
                "revision": revision,
                "comparedTo": {"source": source, "destination": spec["destination"]},
            },
            "health": {"status": "Healthy"},
            "summary": {"images": list(live)},
            "sourceType": "Helm" if helm else "Kustomize",
            "reconciledAt": _stamp(rng),
            "resources": _resources(name, namespace),
            "history": [{"revision": revision, "deployedAt": _stamp(rng), "id": 1}],
        }
    return app


def _review(operation: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application"},
            "resource": {"group": "argoproj.io", "version": "v1alpha1", "resource": "applications"},
            "requestKind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application"},
            "name": meta["name"],
            "namespace": meta["namespace"],
            "operation": operation,
            "userInfo": {
                "username": "system:serviceaccount:argocd:argocd-application-controller",
                "groups": ["system:serviceaccounts", "system:authenticated"],
            },
            "object": obj,
            "oldObject": old,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"},
        },
    }


def _policy_annotations(
    images: Sequence[tuple[str, str, str]], *, helm: bool, typo: bool = False
) -> dict[str, str]:
    """``images`` are (alias, repository, constraint) triples."""
    ours = {
        PREFIX + "image-list": ", ".join(f"{a}={repo}:{c}" for a, repo, c in images),
        PREFIX + "write-back-method": "argocd",
    }
    for alias, _, _ in images:
        ours[PREFIX + f"{alias}.update-strategy"] = "semver"
        ours[PREFIX + f"{alias}.allow-tags"] = r"regexp:^v?[0-9]+\.[0-9]+\.[0-9]+$"
        ours[PREFIX + f"{alias}.ignore-tags"] = "*-rc*, *-debug"
        if helm:
            ours[PREFIX + f"{alias}.helm.image-name"] = f"{alias}.image.repository"
            ours[PREFIX + f"{alias}.helm.image-tag"] = f"{alias}.image.tag"
    if typo:
        alias = images[0][0]
        ours[PREFIX + f"{alias}.update-stratgy"] = ours.pop(PREFIX + f"{alias}.update-strategy")
        ours[PREFIX + f"{alias}.allow-tags"] = "regexp:(unclosed"
    return ours


_PUBLIC = (
    "ghcr.io/acme/api",
    "registry.example.com/platform/web",
    "quay.io/acme/worker",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing",
    "docker.io/bitnami/redis",
    "registry.example.com/platform/gateway",
)
_ALIASES = ("api", "worker", "sidecar")


def validation_bodies(count: int, *, seed: int = 1) -> list[bytes]:
    """The validating webhook's traffic: 60 % status UPDATEs with unchanged annotations
    (Argo CD writes status through the main resource), 30 % valid CREATEs, 10 % CREATEs
    with mistakes that are denied."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(count):
        n = 1 + i % 3
        images = [
            (_ALIASES[k], rng.choice(_PUBLIC), rng.choice(("~1.4", "^2", "1.x", ">=3.1 <4")))
            for k in range(n)
        ]
        helm = i % 2 == 0
        live = [f"{repo}:1.{rng.randrange(9)}.{rng.randrange(9)}" for _, repo, _ in images]
        kind = i % 10
        ours = _policy_annotations(images, helm=helm, typo=kind == 9)
        app = application(f"svc-{i:04d}", ours, helm=helm, live=live, rng=rng)
        if kind < 6:
            old = copy.deepcopy(app)
            old["status"]["reconciledAt"] = _stamp(rng)
            old["status"]["health"] = {"status": "Progressing"}
            old["metadata"]["resourceVersion"] = str(int(app["metadata"]["resourceVersion"]) - 1)
            review = _review("UPDATE", app, old)
        else:
            review = _review("CREATE", app, None)
        out.append(json.dumps(review, separators=(",", ":")).encode())
    return out


def mutation_bodies(repositories: Sequence[str], count: int, *, seed: int = 2) -> list[bytes]:
    """CREATE reviews whose 1–3 images resolve against ``repositories`` (full names with the
    registry host); ``kubectl apply`` adds the last-applied-configuration copy."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(count):
        n = min(1 + i % 3, len(repositories))
        chosen = rng.sample(list(repositories), n)
        images = [
            (_ALIASES[k], repo, rng.choice(("~1.4", "^1.2", "1.x", ">=1.5 <1.8")))
            for k, repo in enumerate(chosen)
        ]
        helm = i % 2 == 0
        ours = _policy_annotations(images, helm=helm)
        app = application(f"new-{i:04d}", ours, helm=helm, live=(), rng=rng, status=False)
        for key in ("uid", "resourceVersion", "generation", "creationTimestamp"):
            del app["metadata"][key]
        applied = json.dumps(app, separators=(",", ":"))
        app["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = applied
        out.append(json.dumps(_review("CREATE", app, None), separators=(",", ":")).encode())
    return out


def update_policies(count: int) -> list[dict[str, Any]]:
    """``count`` ClusterImageUpdatePolicies that all match every Application of
    :func:`validation_bodies` (by project glob, namespace and label), each with a full set of
    rules those Applications keep — so each one is judged in full and none denies: a third
    ``Enforce``, a third ``Warn``, a third ``Audit``."""
    registries = sorted({repo.split("/", 1)[0] for repo in _PUBLIC})
    actions = ("Enforce", "Warn", "Audit")
    out: list[dict[str, Any]] = []
    for i in range(count):
        out.append(
            {
                "apiVersion": "image-updater.io/v1alpha1",
                "kind": "ClusterImageUpdatePolicy",
                "metadata": {"name": f"bench-{i:02d}"},
                "spec": {
                    "action": actions[i % 3],
                    "match": {
                        "namespaces": ["argocd"],
                        "projects": ["team-*"],
                        "applicationSelector": {
                            "matchLabels": {"app.kubernetes.io/part-of": "platform"}
                        },
                        "names": ["svc-*", "new-*"],
                    },
                    "rules": {
                        "allowedRegistries": [*registries[: 1 + i % len(registries)], "*"],
                        "allowedRepositories": ["*/*", f"*/team-{i}/*"],
                        "deniedTags": ["latest", f"*-debug-{i}", "*-snapshot"],
                        "allowedStrategies": ["semver", "digest"],
                        "maxBump": ("major", "minor")[i % 2],
                        "minimumAge": f"{1 + i % 4}h",
                    },
                },
            }
        )
    return out


def write_bodies(path: Path, bodies: Sequence[bytes]) -> Path:
    """One compact JSON document per line, the format the Lua script reads."""
    path.write_bytes(b"".join(body + b"\n" for body in bodies))
    return path
