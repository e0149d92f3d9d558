"""Upstream v1.0–v1.3's persisted ``commonUpdateSettings`` defaults, and telling them apart.

Upstream's ImageUpdater CRD up to v1.3 (the one in ``shared/crds``) declares
``updateStrategy: semver`` and ``forceUpdate: false`` as schema defaults, so the API server
writes both into every ``commonUpdateSettings`` block that is present, and stores them. Read
literally, a block that only says ``allowTags`` then also "sets" the strategy and
force-update, overriding what the level above says; upstream v1.4 removed the defaults
(PR #1782) but stored objects keep the values.

What this module decides, used by ``settings`` for the applicationRef and image levels
(the spec level inherits from nothing, so its defaults are harmless):

* A field is *possibly persisted* when its block holds both ``updateStrategy`` and
  ``forceUpdate`` (the old CRD always adds the two together) and this field has the default
  value, spelled exactly as the CRD writes it (``semver``; ``false``). A block written with
  only one of the two, or with ``SemVer``, was not defaulted: its values are the user's.
* A possibly persisted field is read as *not set* (inherited), because that is what a user
  who wrote nothing there means, unless ``kubectl.kubernetes.io/last-applied-configuration``
  (what ``kubectl apply`` recorded the user sent) shows the field was written there: then it
  counts. :class:`Evidence` answers that, matching applicationRefs by ``namePattern`` and
  images by ``alias`` (the keys the API server merges lists by), never by position.
* When there is no such record and the inherited value differs from the default, the parse
  warns (``settings.inherit``), naming the value that applies instead.
"""

from __future__ import annotations

__all__ = [
    "CRD_DEFAULTS",
    "LAST_APPLIED",
    "Evidence",
    "Written",
    "possibly_persisted",
    "read_evidence",
]

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CRD_DEFAULTS: Mapping[str, object] = {"updateStrategy": "semver", "forceUpdate": False}
# The record is an annotation (at most 256 KiB); a larger one is not read.
_MAX_RECORD = 256 * 1024

# For one block: whether the field was written there (True / False), or None if unknown.
Written = Callable[[str], "bool | None"]


def possibly_persisted(block: Mapping[str, Any], name: str) -> bool:
    """Whether ``block[name]`` may be the old CRD's stored default rather than the user's."""
    if not all(key in block for key in CRD_DEFAULTS):
        return False
    value = block[name]
    default = CRD_DEFAULTS[name]
    # `False == 0` in Python; the CRD's default is the JSON boolean, the strategy the string.
    return type(value) is type(default) and value == default


@dataclass(frozen=True, slots=True)
class Evidence:
    """What ``kubectl apply`` recorded of the spec: applicationRefs by ``namePattern``."""

    refs: Mapping[str, Mapping[str, Any]] | None = field(default=None, hash=False)

    def written(self, name_pattern: str, alias: str | None, name: str) -> bool | None:
        """Whether ``name`` was in that block's ``commonUpdateSettings`` as applied; None
        when nothing was recorded or the block is not in the record (edited since)."""
        if self.refs is None or name_pattern not in self.refs:
            return None
        block: object = self.refs[name_pattern]
        if alias is not None:
            images = _get(block, "images")
            listed = images if isinstance(images, list) else []
            matches = [i for i in listed if isinstance(i, Mapping) and i.get("alias") == alias]
            if len(matches) != 1:
                return None
            block = matches[0]
        settings = _get(block, "commonUpdateSettings")
        if settings is None:
            return False
        return name in settings if isinstance(settings, Mapping) else None


def read_evidence(metadata: object) -> Evidence:
    """The applied record in ``metadata.annotations``, when there is a readable one."""
    annotations = _get(metadata, "annotations")
    text = _get(annotations, LAST_APPLIED)
    if not isinstance(text, str) or len(text) > _MAX_RECORD:
        return Evidence()
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return Evidence()
    refs = _get(_get(record, "spec"), "applicationRefs")
    if not isinstance(refs, list):
        return Evidence()
    by_pattern: dict[str, Mapping[str, Any]] = {}
    for ref in refs:
        pattern = _get(ref, "namePattern")
        if isinstance(pattern, str) and isinstance(ref, Mapping):
            by_pattern.setdefault(pattern, ref)
    return Evidence(by_pattern)


def _get(value: object, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None
