"""Upstream's command-line flags that this version does not have, per subcommand.

Argo CD Image Updater users bring their ``run`` and ``test`` command lines (v0.x and v1.x
flags, upstream behaviour §18). A flag listed here is refused naming it as upstream's and
saying what to use instead, rather than as a typo. A flag the parser has is never looked
up here, so adding it to a command makes its entry dead, not wrong; the CLI tests check
that every entry still reaches its message.
"""

from __future__ import annotations

__all__ = ["UPSTREAM_ONLY_FLAGS", "upstream_only_hint"]

from collections.abc import Mapping

_CONCURRENCY = "use --max-concurrency, the number of Applications processed in parallel"

_RUN: Mapping[str, str] = {
    # v1.x (controller-runtime) flags
    "--max-concurrent-apps": _CONCURRENCY,
    "--max-concurrent-reconciles": (
        "every ImageUpdater resource and annotated Application is processed in one cycle, "
        "which asks each repository once; " + _CONCURRENCY
    ),
    "--warmup-cache": (
        "there is no warm-up cycle: each repository is asked once per cycle for every "
        "Application, and /readyz waits for the first list of Applications; try a cycle "
        "without writing with --once --dry-run"
    ),
    "--health-probe-bind-address": "use --health-port and --listen-address; --health-port 0 = off",
    "--metrics-bind-address": "use --metrics-port and --listen-address; --metrics-port 0 = off",
    "--metrics-secure": (
        "/metrics is served over plain HTTP on --metrics-port; put a TLS proxy in front if needed"
    ),
    "--enable-http2": "the probe, metrics and webhook servers speak HTTP/1.1",
    # v0.x flags
    "--disable-kubernetes": (
        "the Kubernetes API is always used, for Secrets and Events; --applications-api argocd "
        "reads and writes Applications through Argo CD's API instead"
    ),
}

_TEST: Mapping[str, str] = {
    # v0.x flags
    "--disable-kubernetes": (
        "not needed: test reads the Kubernetes API only for pullsecret: and secret: "
        "credentials, through --kubeconfig or $KUBECONFIG"
    ),
    "--disable-kubernetes-events": "not needed: test creates no Kubernetes Events",
}

UPSTREAM_ONLY_FLAGS: Mapping[str, Mapping[str, str]] = {"run": _RUN, "test": _TEST}


def upstream_only_hint(command: str, flag: str) -> str | None:
    """What to use instead of upstream's ``flag`` of ``command``, or None if it is not one."""
    return UPSTREAM_ONLY_FLAGS.get(command, {}).get(flag)
