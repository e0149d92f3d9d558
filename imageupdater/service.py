"""The long-lived resolution service shared by the webhook and the reconciler.

One registry client (with its caches, rate limits and single-flight), one credential
cache, one ``registries.conf``: every Application and every admission review resolves
through the same instance, so a repository named by a thousand Applications costs one tag
list per cache period.
"""

from __future__ import annotations

__all__ = ["ResolverService"]

import contextlib
import dataclasses
import logging
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from imageupdater.credential_sources import CredentialCache, CredentialSource, SecretReader
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.reachability import ReachabilityPolicy
from imageupdater.resolver import Resolution, SelectionMemo, resolve


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
    ) -> None:
        """``reachability`` (the webhook's and reconciler's default; ``None`` = reach any
        host) also trusts every API host ``conf`` names, so configured registries always
        work. It replaces ``settings.reachability`` when given."""
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
        self.client = RegistryClient(
            settings=settings,
            credentials=self.credentials,
            logger=logger or logging.getLogger("image_updater.registry"),
        )
        self.memo = SelectionMemo()

    async def __aenter__(self) -> Self:
        await self.client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.__aexit__(exc_type, exc, tb)

    def cycle(self) -> contextlib.AbstractContextManager[None]:
        """Scope one reconcile cycle: each repository's tag list is read at most once in it."""
        return self.client.cycle()

    async def resolve(self, policy: ImagePolicy, current_tag: str | None = None) -> Resolution:
        return await resolve(
            policy, client=self.client, conf=self.conf, current_tag=current_tag, memo=self.memo
        )
