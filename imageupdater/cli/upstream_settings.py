"""Upstream settings that must not be silently wrong: environment variables and keys of
the ``argocd-image-updater-config`` ConfigMap that upstream reads and this version does
not support are refused at start, naming each one and what to use instead; a key neither
knows (a typo) is refused too. What is supported keeps upstream's meaning.

The ConfigMap is seen whole where the install mounts it (``--configmap-dir``); the
environment is checked as the process got it. Both components (``run``, ``admission``)
check the same tables.
"""

from __future__ import annotations

__all__ = [
    "CONFIGMAP_DIR",
    "SUPPORTED_KEYS",
    "UNSUPPORTED_ENV",
    "UNSUPPORTED_KEYS",
    "check_upstream_settings",
]

from collections.abc import Mapping
from pathlib import Path

from imageupdater.errors import InvalidInput

CONFIGMAP_DIR = Path("/app/config/argocd-image-updater-config")
CONFIGMAP = "argocd-image-updater-config"

SUPPORTED_KEYS = frozenset(
    {
        "registries.conf",
        "git.commit-message-template",
        "log.level",
        "log.format",
        "interval",
        "kube.events",
        "applications_api",
        "argocd.server_addr",
        "argocd.grpc_web",
        "argocd.insecure",
        "argocd.plaintext",
        "argocd.namespace",
        "watch.namespaces",  # run: where ImageUpdater resources are read
        "git.user",
        "git.email",
        "git.commit-signing-key",
        "git.commit-signing-method",
        "git.commit-sign-off",
        # the registry webhook receiver (run --enable-webhook, webhook)
        "webhook.enable",
        "webhook.require-secret",
        "webhook.port",
        "webhook.ratelimit-allowed",
        "disable-tls",
        "tls.min-version",
        "tls.max-version",
        "tls.ciphers",
    }
)

_CONCURRENCY = "use MAX_CONCURRENCY / --max-concurrency (Applications written at once)"

UNSUPPORTED_KEYS: Mapping[str, str] = {
    "max_concurrent_apps": _CONCURRENCY,
    "max_concurrent_reconciles": _CONCURRENCY,
}
UNSUPPORTED_ENV: Mapping[str, str] = {
    "MAX_CONCURRENT_APPS": _CONCURRENCY,
    "MAX_CONCURRENT_RECONCILES": _CONCURRENCY,
}


def _configmap_keys(directory: Path) -> list[str]:
    try:
        # The kubelet's own entries (..data, ..2026_…) are not keys.
        return sorted(p.name for p in directory.iterdir() if not p.name.startswith(".."))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InvalidInput(f"cannot read the ConfigMap at {directory}: {exc.strerror}") from None


def check_upstream_settings(env: Mapping[str, str], configmap_dir: Path | None) -> None:
    """Raise ``InvalidInput`` naming every unsupported or unknown setting found."""
    problems = [
        f"environment variable {name} is upstream's and not supported here: {hint}"
        for name, hint in UNSUPPORTED_ENV.items()
        if name in env
    ]
    for key in _configmap_keys(configmap_dir) if configmap_dir is not None else ():
        if key in SUPPORTED_KEYS:
            continue
        if key in UNSUPPORTED_KEYS:
            problems.append(
                f"ConfigMap {CONFIGMAP} key {key!r} is upstream's and not supported here: "
                f"{UNSUPPORTED_KEYS[key]}"
            )
        else:
            problems.append(
                f"ConfigMap {CONFIGMAP} has the unknown key {key!r}; known keys: "
                + ", ".join(sorted(SUPPORTED_KEYS))
            )
    if problems:
        raise InvalidInput("; ".join(problems))
