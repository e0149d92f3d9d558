"""``ImageUpdater`` resources (``argocd-image-updater.argoproj.io/v1alpha1``): the second reader.

Pure (no I/O, no clock). An ImageUpdater is read into the same ``AppConfig`` an
Application's annotations give (``imageupdater.annotations``), so resolving, planning and
writing back are one core for both inputs. Modules:

* ``parse`` — :func:`parse`: raw object → :class:`ParseResult` (the resource and every
  problem, keyed by field path); ``refs`` (one applicationRef), ``imageconfig`` (one image),
  ``settings`` (commonUpdateSettings and inheritance), ``writeback``, ``verification``,
  ``selectors`` (label selectors), ``fields`` (raw JSON readers and caps);
* ``quirk`` — the v1.0–v1.3 persisted ``commonUpdateSettings`` defaults;
* ``model`` — :class:`ImageUpdater`, :class:`ApplicationRef` and what an applicationRef
  means for an Application (:class:`FromResource`, :class:`UseAnnotations`,
  :class:`Unusable`); ``specificity`` — upstream's score;
* ``selection`` — which applicationRef selects an Application (:func:`bind`), and which of
  several resources acts on it (:func:`arbitrate`);
* ``status`` — the ``status`` upstream writes, and whether a new one differs.
"""

from __future__ import annotations

__all__ = [
    "API_VERSION",
    "KIND",
    "ApplicationRef",
    "Arbitration",
    "Binding",
    "CosignKey",
    "CycleResult",
    "FromResource",
    "ImageChange",
    "ImageUpdater",
    "LabelSelector",
    "ParseResult",
    "RefSource",
    "Superseded",
    "Unusable",
    "UseAnnotations",
    "Verification",
    "arbitrate",
    "bind",
    "bind_all",
    "completed_status",
    "parse",
    "reconciling_status",
    "specificity",
    "status_changed",
    "status_merge_patch",
]

from imageupdater.imageupdaters.model import (
    ApplicationRef,
    FromResource,
    ImageUpdater,
    RefSource,
    Unusable,
    UseAnnotations,
)
from imageupdater.imageupdaters.parse import API_VERSION, KIND, ParseResult, parse
from imageupdater.imageupdaters.selection import (
    Arbitration,
    Binding,
    Superseded,
    arbitrate,
    bind,
    bind_all,
)
from imageupdater.imageupdaters.selectors import LabelSelector
from imageupdater.imageupdaters.specificity import specificity
from imageupdater.imageupdaters.status import (
    CycleResult,
    ImageChange,
    completed_status,
    reconciling_status,
    status_changed,
    status_merge_patch,
)
from imageupdater.imageupdaters.verification import CosignKey, Verification
