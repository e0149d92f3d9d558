"""Small builders for raw sync windows and Applications as the Kubernetes API returns them."""

from __future__ import annotations

from typing import Any

from imageupdater.syncwindows import SyncWindow


def raw_window(
    kind: str = "deny", schedule: str = "0 22 * * *", duration: Any = "1h", **extra: Any
) -> dict[str, Any]:
    window: dict[str, Any] = {"kind": kind, "schedule": schedule, "duration": duration}
    window.update(extra)
    if not any(key in window for key in ("applications", "namespaces", "clusters")):
        window["applications"] = ["*"]
    return window


def window(
    kind: str = "deny", schedule: str = "0 22 * * *", duration: str = "1h", **extra: Any
) -> SyncWindow:
    return SyncWindow.parse(raw_window(kind, schedule, duration, **extra))


def application(
    name: str = "guestbook", namespace: str = "default", server: str = "", cluster: str = ""
) -> dict[str, Any]:
    destination: dict[str, Any] = {"namespace": namespace}
    if server:
        destination["server"] = server
    if cluster:
        destination["name"] = cluster
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"project": "default", "destination": destination},
    }


def project(*windows: dict[str, Any], name: str = "team") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"syncWindows": list(windows)},
    }
