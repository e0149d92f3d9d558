"""The ``argocd-image-updater.argoproj.io/*`` annotations: parsing them into an ``AppConfig``.

``parse`` returns the configuration of one Application together with every problem found
(errors and warnings), in the one wording shared by the admission webhook, the reconciler
and ``image-updater lint``. Modules: ``keys`` (the key vocabulary), ``imagelist``,
``values`` (one value each), ``writeback``, ``report`` (wording) and ``parser``.
"""

from __future__ import annotations

__all__ = ["PREFIX", "ParseResult", "parse"]

from imageupdater.annotations.parser import ParseResult, parse
from imageupdater.annotations.report import PREFIX
