"""The long-lived resolution service shared by the webhook and the reconciler.

One registry client (with its caches, rate limits and single-flight), one credential
cache, one ``registries.conf``: every Application and every admission review resolves
through the same instance, so a repository named by a thousand Applications costs one tag
list per cache period.
"""

from __future__ import annotations

__all__ = ["RELOAD_INTERVAL", "ResolverService", "conf_watch_path", "watch_registries_conf"]

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from imageupdater.credential_sources import CredentialCache, CredentialSource, SecretReader
from imageupdater.errors import ImageUpdaterError
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import DEFAULT_PATH, RegistriesConf
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.reachability import ReachabilityPolicy
from imageupdater.resolver import Resolution, SelectionMemo, resolve

if TYPE_CHECKING:
    from imageupdater.registry.shared import SharedCache
    from imageupdater.shared_cache_settings import SharedCacheSettings
    from imageupdater.updatepolicy import PolicyFilter


class ResolverService:
    def __init__(
        self,
        conf: RegistriesConf,
        *,
        secrets: SecretReader | None = None,
        settings: ClientSettings | None = None,
        environ: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
        reachability: ReachabilityPolicy | None = None,
        shared: SharedCacheSettings | None = None,
    ) -> None:
        """``reachability`` (the webhook's and reconciler's default; ``None`` = reach any
        host) also trusts every API host ``conf`` names, so configured registries always
        work. It replaces ``settings.reachability`` when given. ``shared`` (``--redis``):
        share tag lists and metadata with the other replicas through Redis."""
        self.conf = conf
        settings = settings or ClientSettings()
        if reachability is not None:
            settings = dataclasses.replace(settings, reachability=reachability)
        if settings.reachability is not None:
            settings = dataclasses.replace(
                settings, reachability=settings.reachability.trusting(conf.endpoints)
            )
        self.credentials = CredentialCache(
            CredentialSource(
                secrets=secrets, environ=environ if environ is not None else os.environ
            )
        )
        self.shared: SharedCache | None = None
        if shared is not None:
            from imageupdater.registry.shared import SharedCache  # Redis: only when asked

            self.shared = SharedCache(shared)
        self.client = RegistryClient(
            settings=settings,
            credentials=self.credentials,
            logger=logger or logging.getLogger("image_updater.registry"),
            shared=self.shared,
        )
        self.memo = SelectionMemo()

    async def __aenter__(self) -> Self:
        if self.shared is not None:
            await self.shared.open()  # a refused password stops the start here
        try:
            await self.client.__aenter__()
        except BaseException:
            if self.shared is not None:
                await self.shared.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.client.__aexit__(exc_type, exc, tb)
        finally:
            if self.shared is not None:
                await self.shared.close()

    def cycle(self) -> contextlib.AbstractContextManager[None]:
        """Scope one reconcile cycle: each repository's tag list is read at most once in it."""
        return self.client.cycle()

    def reload(self, conf: RegistriesConf) -> None:
        """Resolve with ``conf`` from now on. Its registries are configured, so trusted as
        such; choices remembered under the old configuration are forgotten."""
        self.conf = conf
        self.memo = SelectionMemo()

    async def resolve(
        self,
        policy: ImagePolicy,
        current_tag: str | None = None,
        policies: PolicyFilter | None = None,
    ) -> Resolution:
        return await resolve(
            policy,
            client=self.client,
            conf=self.conf,
            current_tag=current_tag,
            memo=self.memo,
            policies=policies,
        )


RELOAD_INTERVAL = 10.0
_log = logging.getLogger("image_updater.registries_conf")


def conf_watch_path(flag: str | None) -> Path | None:
    """The file ``--registries-conf-path`` makes the process follow: upstream's default path
    when unset (a ConfigMap key added later appears there), none for ``""``."""
    if flag is None:
        return DEFAULT_PATH
    return Path(flag) if flag else None


def _fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


async def watch_registries_conf(
    service: ResolverService, path: Path, *, interval: float = RELOAD_INTERVAL
) -> None:
    """Follow ``path`` until cancelled: a changed file that parses replaces the service's
    configuration; one that does not is reported and the running configuration kept (a
    typo in the ConfigMap must not drop every registry's settings). A ConfigMap volume
    swaps the file through a symlink, which reading by path sees.

    The first look compares the file with the running configuration itself, so an edit
    made between the process reading it at start and this watch starting is not missed."""
    seen: str | None = "not looked at yet"
    first = True
    while True:
        if not first:
            await asyncio.sleep(interval)
        first = False
        try:
            now = await asyncio.to_thread(_fingerprint, path)
        except OSError as exc:
            _log.error("cannot read registries.conf at %s: %s", path, exc.strerror or exc)
            continue
        if now == seen:
            continue
        seen = now
        if now is None:
            if service.conf.source == str(path):
                _log.warning(
                    "registries.conf at %s was removed; keeping the running configuration "
                    "(restart to go back to the built-in defaults)",
                    path,
                )
            continue
        try:
            conf = await asyncio.to_thread(RegistriesConf.load, path)
        except ImageUpdaterError as exc:
            _log.error(
                "registries.conf at %s changed but is invalid; keeping the running "
                "configuration: %s",
                path,
                exc,
            )
            continue
        if conf == service.conf:
            continue
        service.reload(conf)
        _log.info(
            "registries.conf at %s reloaded: %d registries configured",
            path,
            sum(1 for e in conf.endpoints if e.origin == "config"),
        )
