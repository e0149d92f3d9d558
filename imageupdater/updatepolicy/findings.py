"""``Finding``: one breach of one policy rule, in the one wording every surface shows.

Owns how a breach reads (``policy ClusterImageUpdatePolicy/trusted (Enforce), rule
allowedRegistries: image 'nginx' is from registry 'docker.io', which is not allowed; allowed:
'ghcr.io'``) and what each action makes of it: ``Enforce`` is an error (the webhook denies, the
reconciler refuses), ``Warn`` a warning (``kubectl`` ``Warning:`` lines, a Warning Event),
``Audit`` no user-facing problem at all, only the record (policy status, metrics).
"""

from __future__ import annotations

__all__ = ["Finding", "problems"]

from collections.abc import Iterable
from dataclasses import dataclass

from imageupdater.problems import Problem, Severity
from imageupdater.updatepolicy.model import Action, PolicyRef, RuleName

_SEVERITY: dict[Action, Severity | None] = {
    Action.ENFORCE: "error",
    Action.WARN: "warning",
    Action.AUDIT: None,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One breach: which policy and rule, the value that breaks it, and what is allowed.

    ``key`` says where the value was found (an annotation name, a spec field path such as
    ``spec.source.kustomize.images[0]``, "" when nowhere in the object: a registry's tag);
    ``image`` is the image concerned (``ghcr.io/acme/web``), for status and Events.
    """

    policy: PolicyRef
    action: Action
    rule: RuleName
    value: str
    message: str
    allowed: str
    key: str = ""
    image: str = ""

    @property
    def text(self) -> str:
        """The whole sentence, without the location (``key``)."""
        return (
            f"policy {self.policy} ({self.action.value}), rule {self.rule}: {self.message}; "
            f"allowed: {self.allowed}"
        )

    @property
    def severity(self) -> Severity | None:
        """``error`` for Enforce, ``warning`` for Warn, None for Audit (recorded, not shown)."""
        return _SEVERITY[self.action]

    def problem(self) -> Problem | None:
        """The finding as the review's ``Problem``; None for an Audit finding."""
        severity = self.severity
        return None if severity is None else Problem(self.key, self.text, severity)

    def __str__(self) -> str:
        return f"{self.key}: {self.text}" if self.key else self.text


def problems(findings: Iterable[Finding]) -> tuple[Problem, ...]:
    """The user-facing problems of ``findings``: Enforce as errors, Warn as warnings."""
    found: list[Problem] = []
    for finding in findings:
        problem = finding.problem()
        if problem is not None:
            found.append(problem)
    return tuple(found)
