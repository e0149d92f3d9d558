"""What a resolution answers."""

from __future__ import annotations

__all__ = ["Resolution"]

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imageupdater.strategies import Strategy

if TYPE_CHECKING:
    # Types only: a lookup no policy judges (`test`, admission) loads none of the policies.
    from imageupdater.updatepolicy import CandidateDecision, Deferral


@dataclass(frozen=True, slots=True)
class Resolution:
    image: str  # "registry/name" as upstream's test prints it
    strategy: Strategy
    constraint: str | None
    tag: str | None  # chosen tag, None when nothing qualifies
    digest: str | None
    candidates: tuple[str, ...]  # tags left after filters (and constraint, for semver)
    # With update policies: what they made of the candidates, an update they hold back for
    # now (one the strategy would move to), and whether the write pins the digest.
    decision: CandidateDecision | None = None
    deferral: Deferral | None = None
    pin_digest: bool = False
