"""Whether an image's constraint suits its update strategy: the one check both readers make
(the image-list annotation and an ImageUpdater's ``imageName``), with one wording.

``digest`` follows one plain tag; ``semver`` needs a constraint that parses; the other
strategies ignore a constraint, which is worth a warning. The caller says under which key
(or field path) the finding goes and, through ``source``, where the strategy was set.
"""

from __future__ import annotations

__all__ = ["check_constraint"]

from imageupdater.annotations.report import Collector, quote
from imageupdater.errors import InvalidConstraint
from imageupdater.images import ImageRef
from imageupdater.patterns import compile_re2, fullmatches
from imageupdater.strategies import Strategy, missing_followed_tag
from imageupdater.versions import Constraint

# A tag as the distribution spec allows it.
_PLAIN_TAG = compile_re2(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def check_constraint(
    out: Collector,
    key: str,
    *,
    ref: ImageRef | None,
    text: str,
    strategy: Strategy,
    source: str,
) -> None:
    """Report under ``key`` what is wrong with ``ref``'s constraint (its tag part) for
    ``strategy``. ``text`` is the image as written; ``source`` is "" or " (set by …)"."""
    constraint = ref.tag if ref is not None else None
    image = quote(text)
    if strategy.follows_one_tag:
        if constraint is None:
            name = ref.full_name if ref is not None else None
            out.error(key, str(missing_followed_tag(image, name=name, source=source)))
        elif not fullmatches(_PLAIN_TAG, constraint):
            out.error(
                key,
                f"update strategy 'digest'{source} follows one tag, but image {image} has the "
                f"version constraint {quote(constraint)}; write a plain tag such as 'latest'",
            )
        return
    if constraint is None:
        return
    if strategy.constraint_is_semver:
        try:
            Constraint.parse(constraint)
        except InvalidConstraint as err:
            out.error(
                key,
                f"image {image} has an invalid semver constraint: {err}; to follow a moving "
                "tag such as 'latest' use update strategy 'digest'",
            )
        return
    out.warn(
        key,
        f"the constraint {quote(constraint)} of image {image} is ignored by update strategy "
        f"'{strategy.value}'{source}; it only applies to "
        f"{' and '.join(s.value for s in Strategy if s.uses_constraint)}",
    )
