"""Resolving one :class:`~imageupdater.policy.ImagePolicy` against its registry.

Owns the path from a policy to a :class:`Resolution`: pick the endpoint from
``registries.conf``, list tags (cached and shared by every policy naming the repository),
apply the tag filter, narrow semver candidates by the constraint, fetch metadata only when
the strategy needs it (``newest-build``: every candidate, cached by digest; ``digest``: the
followed tag only), and let :mod:`imageupdater.strategies` choose.

Each listed tag goes through the tag filter once and, for ``semver``, through the version
parse and the constraint once: the allowed list that becomes ``Resolution.candidates`` is
the one the choice is made from (:func:`~imageupdater.strategies.select_allowed`).

Update policies (``policies``, a :class:`~imageupdater.updatepolicy.PolicyFilter`) judge the
candidates after the tag filter (and the constraint) and before the strategy, for every
strategy: what an ``Enforce`` policy takes out cannot be chosen, so ``maxBump: minor`` moves
1.4 to 1.9 past a 2.0. For ``semver`` only the versions above the running one are judged
(the strategy never goes below it). A ``minimumAge`` needs creation times, which tag names
do not carry: for ``semver`` and ``alphabetical`` the metadata of the candidates is read in
the strategy's order, best first, until one is old enough (what lies below it could not be
chosen anyway). ``Resolution.decision`` keeps what the policies found and
``Resolution.deferral`` an update they hold back for a while. Without policies nothing of
this runs: the remembered choices serve as before; with policies that do not depend on
time the choice is remembered under the policies too.

Modules: ``core`` (:func:`resolve`), ``model`` (:class:`Resolution`), ``memo``
(:class:`SelectionMemo`), ``reads`` (metadata, the followed tag, synthetic dates, single-tag
reads), ``judged`` (the update policies' part).
"""

from __future__ import annotations

__all__ = ["Resolution", "SelectionMemo", "resolve"]

from imageupdater.resolver.core import resolve
from imageupdater.resolver.memo import SelectionMemo
from imageupdater.resolver.model import Resolution
