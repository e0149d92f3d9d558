"""The reconciler process: wiring the cluster client, resolver, controller and probes.

Kept apart from the flag parsing in ``reconciler.cli`` so ``image-updater --help`` and
invalid-flag errors do not pay for importing the Kubernetes and HTTP clients.
"""

from __future__ import annotations

__all__ = ["main"]

import asyncio
import contextlib
import logging
import os
import signal
import socket

from prometheus_client import CollectorRegistry

from imageupdater import kube
from imageupdater.argocd import ArgoCDClient
from imageupdater.cli import EXIT_FAILED, EXIT_OK
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry_metrics import RegistryCounterCollector
from imageupdater.service import ResolverService, conf_watch_path, watch_registries_conf
from imageupdater.updatepolicy_source import PolicyWatch
from reconciler.apps_api import ApplicationsAPI, KubeApplications
from reconciler.argocd_api import ArgoCDApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.gitwiring import git_writer
from reconciler.health import serve_probes
from reconciler.imageupdaters import ImageUpdaters, application_namespaces
from reconciler.leader import LeaderElector
from reconciler.metrics import GitMetrics, ReconcilerMetrics
from reconciler.options import RunOptions
from reconciler.policies import PolicyReporter
from reconciler.shards import FencedApplications, coordinator
from reconciler.verification import SignatureGate, registry_verifier
from reconciler.writeback import ArgoCDWriter

log = logging.getLogger("image_updater.reconciler")


def _api(
    options: RunOptions, client: kube.KubeClient, metrics: ReconcilerMetrics
) -> ApplicationsAPI:
    if options.applications_api == "argocd":
        argocd = ArgoCDClient(
            options.argocd_server_addr,
            token=options.argocd_token,
            plaintext=options.argocd_plaintext,
            insecure=options.argocd_insecure,
            grpc_web=options.argocd_grpc_web,
        )
        return ArgoCDApplications(
            argocd,
            metrics,
            namespaces=application_namespaces(options.namespaces, options.watch_namespaces),
            label_selector=options.label_selector,
        )
    return KubeApplications(
        client,
        metrics,
        namespaces=application_namespaces(options.namespaces, options.watch_namespaces),
        label_selector=options.label_selector,
        project_namespace=options.argocd_namespace,
    )


async def main(options: RunOptions, conf: RegistriesConf) -> int:
    registry = CollectorRegistry()
    metrics = ReconcilerMetrics(registry)
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(await kube.KubeClient.connect(options.kubeconfig))
        resolver = await stack.enter_async_context(
            ResolverService(
                conf, secrets=client, reachability=options.reachability, shared=options.redis
            )
        )
        api = _api(options, client, metrics)
        stack.push_async_callback(api.close)
        # Scale-out (--shards, reconciler.shards): each replica works its shards' Applications
        # and every patch is fenced by the shard's lease; shards replace the leader election.
        shards = coordinator(
            options.sharding, client, namespace=options.lease_namespace, registry=registry
        )
        if shards is not None:
            api = FencedApplications(api, shards.owns)
        timing = options.sharding.timing
        elector: LeaderElector | None = None
        if options.leader_election and shards is None:
            identity = f"{socket.gethostname()}_{os.getpid()}"
            elector = LeaderElector(
                client,
                namespace=options.lease_namespace,
                name=options.lease_name,
                identity=identity,
                lease_duration=timing.duration,
                renew_deadline=timing.renew_deadline,
                retry_period=timing.retry_period,
            )
        events = EventRecorder(client, enabled=options.kube_events)
        git = await git_writer(
            options.git,
            client,
            metrics=GitMetrics(registry),
            argocd_namespace=options.argocd_namespace,
            credential_rules=options.credentials,
            stack=stack,
        )
        is_leader = elector.is_leader if elector is not None else (lambda: True)
        works = is_leader  # runs cycles: the leader, or (sharded) the holder of any shard
        if shards is not None:
            # What belongs to no Application (policy and ImageUpdater status, push events):
            # shard 0's holder, as the leader unsharded.
            is_leader, works = shards.holds_first, shards.holds_any
            await shards.start()
        policies = PolicyReporter(
            PolicyWatch(client.list, component="the reconciler"),
            client=client,
            metrics=metrics,
            events=events,
            dry_run=options.dry_run,
            is_leader=is_leader,
        )
        await policies.watch.refresh()  # before the first cycle
        image_updaters = ImageUpdaters(
            client,
            events=events,
            namespaces=options.watch_namespaces,
            annotation_namespaces=options.namespaces or None,
            rules=options.credentials,
            dry_run=options.dry_run,
            is_leader=is_leader,
            metrics=metrics,
        )
        updater_versions = await image_updaters.refresh()  # before the first cycle
        cycle = Cycle(
            api=api,
            resolve=resolver.resolve,
            scope=resolver.cycle,
            metrics=metrics,
            events=events,
            settings=CycleSettings(
                dry_run=options.dry_run,
                max_concurrency=options.max_concurrency,
                credentials=options.credentials,
            ),
            is_leader=works,
            owns=shards.owns if shards is not None else (lambda key: True),
            writers={"argocd": ArgoCDWriter(api), "git": git},
            policies=policies,
            configs=image_updaters,
            signatures=SignatureGate(
                client, required=image_updaters.verification, verify=registry_verifier(resolver)
            ),
        )
        controller = Controller(
            api=api,
            cycle=cycle,
            metrics=metrics,
            settings=ControllerSettings(
                interval=options.interval,
                name_patterns=options.name_patterns,
                api_unready_after=options.api_unready_after,
                resync=not options.standalone,
            ),
            is_leader=works,
            leader_changed=(
                shards.changed
                if shards is not None
                else elector.changed
                if elector is not None
                else None
            ),
        )
        metrics.leader.set_function(lambda: 1.0 if is_leader() else 0.0)
        image_updaters.connect(
            lambda: controller.index.values(),
            lambda keys: controller.run_for(keys, trigger="imageupdater"),
        )
        _watch_registry_counters(resolver, metrics)
        if not options.once:
            await stack.enter_async_context(
                serve_probes(
                    options.listen_address,
                    health_port=options.health_port,
                    metrics_port=options.metrics_port,
                    registry=registry,
                    ready=controller.ready,
                )
            )
        tasks = []
        if not options.once:
            tasks.append(asyncio.create_task(policies.watch.run(), name="update-policies"))
            tasks.append(
                asyncio.create_task(image_updaters.run(updater_versions), name="imageupdaters")
            )
        watched = conf_watch_path(options.registries_conf_path)
        if watched is not None and not options.once:
            tasks.append(
                asyncio.create_task(
                    watch_registries_conf(resolver, watched), name="registries-conf"
                )
            )
        if shards is not None:
            assert shards.metrics is not None
            shards.metrics.count_applications(shards, lambda: list(controller.index))
            tasks.append(asyncio.create_task(shards.run(), name="shards"))
        if elector is not None:
            tasks.append(asyncio.create_task(elector.run(), name="leader-election"))
            # Give the first election a moment so a lone replica starts work at once.
            await elector.try_acquire_or_renew()
        if options.receiver is not None and not options.once:
            from reconciler.receiver import receiving  # aiohttp's server: only when asked

            await stack.enter_async_context(
                receiving(
                    options.receiver,
                    controller=controller,
                    resolver=resolver,
                    registry=registry,
                    rules=options.credentials,
                    is_leader=is_leader,
                )
            )
        main = asyncio.create_task(controller.run(), name="controller")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # A pod being stopped: finish cleanly (and let the elector release its lease).
            loop.add_signal_handler(sig, main.cancel)
        try:
            await main
        except asyncio.CancelledError:
            log.info("stopping")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if options.once and controller.cycles and controller.cycles[-1].failed_apps:
        failed = sorted(controller.cycles[-1].failed_apps)
        shown = ", ".join(failed[:20]) + (
            f" and {len(failed) - 20} more" if len(failed) > 20 else ""
        )
        # For CronJobs and CI: the cycle ran, but not everything it was asked to do happened.
        log.error("%d application(s) could not be updated: %s", len(failed), shown)
        return EXIT_FAILED
    return EXIT_OK


def _watch_registry_counters(resolver: ResolverService, metrics: ReconcilerMetrics) -> None:
    """Mirror the registry client's request counters into Prometheus at scrape time."""
    metrics.registry.register(RegistryCounterCollector(resolver.client.snapshot))
    if resolver.shared is not None:
        from imageupdater.registry_metrics import SharedCacheCollector

        metrics.registry.register(SharedCacheCollector(resolver.shared.counters.snapshot))
