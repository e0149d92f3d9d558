"""Lenient semantic versions and the Masterminds/semver v3 constraint language.

This module owns what upstream gets from ``github.com/Masterminds/semver/v3`` v3.4.0:

* :class:`Version`: ``NewVersion``'s lenient parse (``v`` prefix, missing minor/patch,
  leading zeros in the numeric parts) and a total order: semver precedence as the
  ``semver`` package defines it, ties broken by the tag as written, so ``v2.0``,
  ``v2.0.0`` and ``2.0.0`` sort the way upstream sorts them.
* :class:`Constraint`: ``NewConstraint`` and ``Check``: ``=  !=  >  <  >=  <=  =>  =<  ~
  ~>  ^``, wildcards ``x X *`` in any position, partial versions as wildcards, hyphen
  ranges, AND by space or comma, OR by ``||``. A prerelease is allowed only by an AND
  group in which some comparison names a prerelease (v3.4.0's group rule), so ``*`` and
  the empty constraint never pick one, and ``>=1.0.0-0`` does.

Where Masterminds accepts input by accident we are stricter: every version part must be a
number or one wildcard (Masterminds ignores what follows a wildcard, so it takes ``x.1x``
for ``*``). ``||`` is split before hyphen ranges are read, where Masterminds' regex may
read ``1||2 - 3`` across the ``||``.
"""

from __future__ import annotations

__all__ = ["Constraint", "Version"]

from imageupdater.versions._constraint import Constraint
from imageupdater.versions._version import Version
