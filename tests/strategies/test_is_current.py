"""Whether the running image already is the chosen one (upstream ``ImageTag.Equals``)."""

from __future__ import annotations

import pytest

from imageupdater.strategies import is_current
from imageupdater.tags import TagInfo

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64

CASES = [
    # (id, running tag, running digest, chosen, expected)
    ("same tag, no digests", "1.2.3", None, TagInfo("1.2.3"), True),
    ("other tag, no digests", "1.2.2", None, TagInfo("1.2.3"), False),
    ("same digest, other tag names", "latest", A, TagInfo("stable", digest=A), True),
    ("same tag, other digest", "latest", A, TagInfo("latest", digest=B), False),
    ("running has no digest but chosen has", "latest", None, TagInfo("latest", digest=A), False),
    ("running has a digest but chosen has none", "1.2.3", A, TagInfo("1.2.3"), False),
    ("running without a tag is never current", None, None, TagInfo("1.2.3"), False),
    ("running with an empty tag is never current", "", None, TagInfo("1.2.3"), False),
    ("a bare running digest matches by digest", None, A, TagInfo("latest", digest=A), True),
]


@pytest.mark.parametrize(
    ("tag", "digest", "chosen", "expected"),
    [pytest.param(t, d, c, e, id=i) for i, t, d, c, e in CASES],
)
def test_digests_decide_when_present_otherwise_tag_names_do(
    tag: str | None, digest: str | None, chosen: TagInfo, expected: bool
) -> None:
    assert is_current(tag, digest, chosen) is expected
