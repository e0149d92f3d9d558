"""The seam between where an Application's configuration comes from and the one decision core.

A cycle (``reconciler.cycle``) asks a :class:`ConfigSource` for each Application's
:class:`~imageupdater.review.Reviewed` — the configuration, its problems, the live images and
the live entry of each configured image — and from there resolve → choose → plan → decide →
write back is the same code whatever the configuration was read from. Without a source the
cycle reads the annotations (``ReviewMemo.reviewed``), as it always has. The ImageUpdater
resources' source is ``reconciler.imageupdaters.ImageUpdaters``; :func:`reviewed_from_config`
is how any source hands over a configuration it built itself, with the same live-image
matching and the same warnings an annotated Application gets.
"""

from __future__ import annotations

__all__ = ["ConfigSource", "reviewed_from_config"]

from typing import Protocol

from imageupdater.annotations import ParseResult
from imageupdater.application import Application
from imageupdater.choice import live_entry
from imageupdater.credentials import CredentialRules
from imageupdater.policy import AppConfig
from imageupdater.review import Review, Reviewed, ReviewMemo, configuration_checks
from reconciler.work import CycleResult


class ConfigSource(Protocol):
    """Where a cycle takes each Application's configuration from."""

    async def reviewed(
        self, app: Application, memo: ReviewMemo, rules: CredentialRules
    ) -> Reviewed | None:
        """The Application's reviewed configuration; None when nothing is to be done with it
        (not managed, or held back by a source that reports why itself). ``memo`` reads the
        annotations, for Applications the source leaves to them."""
        ...

    async def finish(self, result: CycleResult, trigger: str) -> None:
        """The cycle (``trigger``) is over: ``result.apps`` holds each Application's part."""
        ...

    def owner(self, app: Application) -> tuple[str, str] | None:
        """The (name, namespace) of the resource that configures ``app`` as the last cycle
        read it, for the metrics' ``image_updater_cr_*`` labels; None: its annotations."""
        ...


def reviewed_from_config(app: Application, config: AppConfig, memo: ReviewMemo) -> Reviewed:
    """A configuration read from elsewhere than the annotations, reviewed as an annotated
    one is: its warnings (an image Argo CD does not report, ``ignore-tags '*'``, a git
    write-back to a tag) and the live entry each image manages."""
    live = memo.live_images(app)
    return Reviewed(
        Review(ParseResult(config, (), True), configuration_checks(config, live, app)),
        live,
        tuple(live_entry(policy, live) for policy in config.images),
    )
