"""Which applicationRef selects an Application, and which ImageUpdater acts on it.

Owns upstream's selection (§2.3): only Applications in the resource's own namespace; the
applicationRefs tried most specific first (``ApplicationRef.specificity``, ties in spec
order); the first whose ``namePattern`` and ``labelSelectors`` both match wins and is the
only one that applies. And the rule upstream lacks for several resources selecting one
Application (issue 15, "no thrash"), :func:`arbitrate`: only the resource whose selecting
applicationRef is the most specific acts on it; equally specific ones are ordered by
resource name (unique in a namespace, so the order is total and never changes between
cycles or replicas). Every other resource stands back with a :class:`Superseded` whose
``message`` is worded for its condition and an Event. A resource whose selecting
applicationRef is ``Unusable`` still wins when it is the most specific: the Application is
then left alone rather than handed to a resource its owner did not mean.
"""

from __future__ import annotations

__all__ = [
    "SUPERSEDED_REASON",
    "Arbitration",
    "Binding",
    "Superseded",
    "arbitrate",
    "bind",
    "bind_all",
    "identity",
]

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imageupdater.imageupdaters.model import ApplicationRef, ImageUpdater, RefSource

# The Event reason (and condition reason) of a resource standing back.
SUPERSEDED_REASON = "SelectedByAnotherImageUpdater"


@dataclass(frozen=True, slots=True)
class Binding:
    """``updater``'s applicationRef ``ref`` selects the Application named ``application``."""

    updater: ImageUpdater
    ref: ApplicationRef
    application: str

    @property
    def source(self) -> RefSource:
        return self.ref.source

    @property
    def specificity(self) -> int:
        return self.ref.specificity


@dataclass(frozen=True, slots=True)
class Superseded:
    """``binding``'s resource does not act on the Application: ``winner``'s does."""

    binding: Binding
    winner: Binding

    @property
    def message(self) -> str:
        loser, winner = self.binding, self.winner
        app = loser.application
        if winner.specificity > loser.specificity:
            why = (
                f"its {winner.ref.path} (namePattern '{winner.ref.name_pattern}', specificity "
                f"{winner.specificity}) is more specific than {loser.ref.path} here "
                f"(specificity {loser.specificity})"
            )
        else:
            why = (
                f"both select it equally specifically (specificity {loser.specificity}) and "
                f"'{winner.updater.name}' comes first by name"
            )
        return (
            f"Application '{app}' is updated by ImageUpdater '{winner.updater.name}', not by "
            f"this one: {why}; narrow namePattern or labelSelectors so that one ImageUpdater "
            "selects it"
        )


@dataclass(frozen=True, slots=True)
class Arbitration:
    """The one binding that acts (None when no resource selects the Application)."""

    winner: Binding | None
    superseded: tuple[Superseded, ...] = ()


def identity(app: Mapping[str, object]) -> tuple[str | None, str, dict[str, str]]:
    """(namespace or None, name, labels) of a raw Application, whatever its shape."""
    metadata = app.get("metadata")
    meta: Mapping[str, object] = metadata if isinstance(metadata, Mapping) else {}
    namespace, name, labels = meta.get("namespace"), meta.get("name"), meta.get("labels")
    return (
        namespace if isinstance(namespace, str) and namespace else None,
        name if isinstance(name, str) else "",
        {k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(labels, Mapping)
        else {},
    )


def bind(updater: ImageUpdater, app: Mapping[str, object]) -> Binding | None:
    """The applicationRef of ``updater`` that selects ``app``; None when none does or the
    Application is in another namespace (a resource only ever sees its own)."""
    namespace, name, labels = identity(app)
    if updater.namespace is not None and namespace is not None and namespace != updater.namespace:
        return None
    for ref in updater.ordered_refs:
        if ref.selects(name, labels):
            return Binding(updater, ref, name)
    return None


def bind_all(updater: ImageUpdater, apps: Iterable[Mapping[str, object]]) -> tuple[Binding, ...]:
    """Every Application ``updater`` selects, in the order given."""
    return tuple(binding for app in apps if (binding := bind(updater, app)) is not None)


def arbitrate(updaters: Iterable[ImageUpdater], app: Mapping[str, object]) -> Arbitration:
    """Of every resource selecting ``app``, the one that acts and those that stand back."""
    bindings = [b for updater in updaters if (b := bind(updater, app)) is not None]
    if not bindings:
        return Arbitration(None)
    ranked = sorted(bindings, key=lambda b: (-b.specificity, b.updater.name))
    winner = ranked[0]
    return Arbitration(winner, tuple(Superseded(b, winner) for b in ranked[1:]))
