"""The reconciler's Prometheus metrics: upstream's names and labels, plus our own.

Upstream (v0 annotation mode, §17.1 of the behaviour reference) exposes the
``argocd_image_updater_*`` series below; dashboards built for it keep working. Unlike
upstream, every one of them is actually incremented. Ours add cycle timing, patches,
deferrals and registry traffic by kind, and what an operator checks first: the process
(``process_*``), the build (``image_updater_build_info``), when a cycle last completed, watches
that had to be restarted, and Applications skipped and why.
"""

from __future__ import annotations

__all__ = [
    "CR_LABELS",
    "SKIP_REASONS",
    "WATCH_RESTART_REASONS",
    "GitMetrics",
    "ReceiverMetrics",
    "ReconcilerMetrics",
]

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.registry import DuplicateTimeseries

import imageupdater

# Upstream v1's labels of its per-resource series: the ImageUpdater that configures them.
CR_LABELS = ("image_updater_cr_name", "image_updater_cr_namespace")
# Why a watch was started over: the server expired its resourceVersion (410 Gone, so the
# namespace is relisted first), or the watch or its relist failed.
WATCH_RESTART_REASONS = ("expired", "error")
# Why a cycle left an Application alone: its annotations are invalid, its write-back method
# or source type is not supported, none of its images runs in it, it is a dry run, or this
# replica is not the leader.
SKIP_REASONS = (
    "invalid_configuration",
    "unsupported_write_back_method",
    "unsupported_source",
    "no_live_images",
    "dry_run",
    "not_leader",
    "held",
)


class ReconcilerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # -- upstream's series -------------------------------------------------------------
        # Upstream v0 labels these by Application and v1 by ImageUpdater resource; both are
        # here, so dashboards of either select what they know (``image_updater_cr_*`` is ""
        # for an Application its annotations configure).
        self.applications_watched = Gauge(
            "argocd_image_updater_applications_watched_total",
            "The total number of applications watched by Argo CD Image Updater",
            CR_LABELS,
            registry=registry,
        )
        self.images_watched = Gauge(
            "argocd_image_updater_images_watched_total",
            "Number of images watched by Argo CD Image Updater",
            ["application", *CR_LABELS],
            registry=registry,
        )
        self.images_held = Gauge(
            "image_updater_images_held",
            "Images a hold keeps at their version (image-updater.io/hold[.<alias>]), per "
            "Application",
            ["application"],
            registry=registry,
        )
        self.images_updated = Counter(
            "argocd_image_updater_images_updated",
            "Number of images updated by Argo CD Image Updater",
            ["application", *CR_LABELS],
            registry=registry,
        )
        self.images_errors = Counter(
            "argocd_image_updater_images_errors",
            "Number of errors reported by Argo CD Image Updater",
            ["application", *CR_LABELS],
            registry=registry,
        )
        self.k8s_requests = Counter(
            "argocd_image_updater_k8s_api_requests",
            "The total number of Kubernetes API requests performed by the Argo CD Image Updater",
            registry=registry,
        )
        self.k8s_errors = Counter(
            "argocd_image_updater_k8s_api_errors",
            "The total number of Kubernetes API requests resulting in error",
            registry=registry,
        )
        self.argocd_requests = Counter(
            "argocd_image_updater_argocd_api_requests",
            "The total number of Argo CD API requests performed by the Argo CD Image Updater",
            ["argocd_server"],
            registry=registry,
        )
        self.argocd_errors = Counter(
            "argocd_image_updater_argocd_api_errors",
            "The total number of Argo CD API requests resulting in error",
            ["argocd_server"],
            registry=registry,
        )
        # -- ours ----------------------------------------------------------------------------
        self.cycle_duration = Histogram(
            "image_updater_cycle_duration_seconds",
            "Wall time of one reconcile cycle",
            ["trigger"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.patches = Counter(
            "image_updater_application_patches",
            "Patches written to Applications, by result (ok, conflict, error, dry_run)",
            ["result"],
            registry=registry,
        )
        self.deferred = Counter(
            "image_updater_updates_deferred",
            "Image updates held back by an AppProject sync window or by an update policy's "
            "minimumAge or updateWindows",
            ["application"],
            registry=registry,
        )
        self.policy_violations = Counter(
            "image_updater_policy_violations",
            "Update-policy breaches found, counted when one starts to stand (not once per "
            "cycle): a standing violation of any action, a Warn or Audit finding about an "
            "update made; policy is Kind/name or Kind/namespace/name",
            ["policy", "rule", "action"],
            registry=registry,
        )
        self.invalid_configs = Counter(
            "image_updater_invalid_configurations",
            "Cycles that found an Application's image-updater annotations invalid",
            ["application"],
            registry=registry,
        )
        self.api_requests = Counter(
            "image_updater_api_requests",
            "Application API requests by verb and result",
            ["verb", "result"],
            registry=registry,
        )
        self.leader = Gauge(
            "image_updater_leader",
            "1 while this replica holds the leader lease (or runs without leader election)",
            registry=registry,
        )
        self.last_successful_cycle = Gauge(
            "image_updater_last_successful_cycle_timestamp_seconds",
            "When the last reconcile cycle completed (Unix time; 0 before the first). Failures "
            "of single Applications do not hold it back: they are counted in "
            "argocd_image_updater_images_errors_total",
            registry=registry,
        )
        self.watch_restarts = Counter(
            "image_updater_watch_restarts",
            "Application watches started over, by reason (expired: 410 Gone, relisted; error: "
            "the watch or its relist failed)",
            ["reason"],
            registry=registry,
        )
        self.applications_skipped = Counter(
            "image_updater_applications_skipped",
            "Applications a cycle left alone, by reason (" + ", ".join(SKIP_REASONS) + ")",
            ["reason"],
            registry=registry,
        )
        self.rollbacks = Counter(
            "image_updater_rollbacks",
            "Rollbacks, by reason: manual (someone else lowered a version the updater wrote; "
            "the image is held), degraded or sync_failed (the updater wrote the previous "
            "version back within the rollback window)",
            ["application", "reason"],
            registry=registry,
        )
        for reason in WATCH_RESTART_REASONS:
            self.watch_restarts.labels(reason)
        for reason in SKIP_REASONS:
            self.applications_skipped.labels(reason)
        self.build_info = _register_process_metrics(registry)


class GitMetrics:
    """The git write-back's series (ours; upstream exports none for git)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.commits = Counter(
            "image_updater_git_commits",
            "Commits made to GitOps repositories",
            registry=registry,
        )
        self.pushes = Counter(
            "image_updater_git_pushes",
            "Pushes to GitOps repositories, by result (ok, rejected, error)",
            ["result"],
            registry=registry,
        )
        self.push_retries = Counter(
            "image_updater_git_push_retries",
            "Pushes retried after the branch moved under them",
            registry=registry,
        )
        self.conflicts = Counter(
            "image_updater_git_conflicts",
            "Pushes rejected because another writer pushed first (non-fast-forward)",
            registry=registry,
        )
        self.operation_duration = Histogram(
            "image_updater_git_operation_duration_seconds",
            "Wall time of one git process, by operation (fetch, push, commit, ...)",
            ["operation", "result"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=registry,
        )
        self.pull_requests_open = Gauge(
            "image_updater_git_pull_requests_open",
            "Pull or merge requests this process keeps open, one per write-back target",
            registry=registry,
        )

    def observe(self, operation: str, seconds: float, ok: bool) -> None:
        """The repository cache's hook: called once per git process."""
        self.operation_duration.labels(operation, "ok" if ok else "error").observe(seconds)


# What became of a coalesced batch of push events: a targeted cycle ran, no Application
# uses the repository, or this replica is not the leader (the leader's receiver serves).
PUSH_BATCH_RESULTS = ("ran", "no_match", "not_leader")


class ReceiverMetrics:
    """The registry webhook receiver's series (ours; upstream exports none for it).

    ``type`` is a registry type of :data:`imageupdater.pushevents.SOURCES` or ``unknown``;
    ``reason`` one of :data:`imageupdater.pushevents.RefusalReason`.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "image_updater_push_events_received",
            "Registry webhook deliveries received, by registry type",
            ["type"],
            registry=registry,
        )
        self.accepted = Counter(
            "image_updater_push_events_accepted",
            "Push events read from authenticated deliveries, by registry type",
            ["type"],
            registry=registry,
        )
        self.rejected = Counter(
            "image_updater_push_events_rejected",
            "Registry webhook deliveries refused, by registry type and reason",
            ["type", "reason"],
            registry=registry,
        )
        self.coalesced = Counter(
            "image_updater_push_events_coalesced",
            "Push events merged into a batch already waiting for the same repository",
            registry=registry,
        )
        self.batches = Counter(
            "image_updater_push_batches",
            "Coalesced batches of push events (one per repository), by result ("
            + ", ".join(PUSH_BATCH_RESULTS)
            + ")",
            ["result"],
            registry=registry,
        )
        self.delayed = Counter(
            "image_updater_push_events_delayed",
            "Deliveries held back by --webhook-ratelimit-allowed (delayed, never dropped)",
            registry=registry,
        )
        self.waiting = Gauge(
            "image_updater_push_events_waiting",
            "Repositories whose push events wait for a --webhook-ratelimit-allowed turn",
            registry=registry,
        )
        self.push_to_update = Histogram(
            "image_updater_push_to_update_seconds",
            "From receiving a batch's first push event to its targeted cycle having written "
            "the update (batches that updated something)",
            buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60),
            registry=registry,
        )
        for result in PUSH_BATCH_RESULTS:
            self.batches.labels(result)


def _register_process_metrics(registry: CollectorRegistry) -> Gauge:
    """``image_updater_build_info`` and ``process_*`` (CPU, memory, open files, start time;
    on Linux — elsewhere the collector exports nothing), once per registry."""
    build_info = Gauge(
        "image_updater_build_info",
        "Always 1; the labels say which build runs",
        ["version", "python_version", "platform"],
        registry=None,
    )
    build_info.labels(
        imageupdater.__version__,
        platform.python_version(),
        f"{platform.system().lower()}/{platform.machine()}",
    ).set(1)
    try:
        registry.register(build_info)
    except DuplicateTimeseries:
        # The webhook's metrics hold these already (one registry for both: a test's).
        return build_info
    ProcessCollector(registry=registry)
    return build_info
