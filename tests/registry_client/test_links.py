"""Link headers of paginated tag lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from imageupdater.errors import RegistryProtocolError
from imageupdater.registry.links import next_page_url, parse_links

CURRENT = URL("http://127.0.0.1:5000/v2/app/tags/list?n=2")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            '</v2/app/tags/list?last=b&n=2>; rel="next"',
            "http://127.0.0.1:5000/v2/app/tags/list?last=b&n=2",
            id="absolute-path",
        ),
        pytest.param(
            '<http://127.0.0.1:5000/v2/app/tags/list?last=b&n=2>; rel="next"',
            "http://127.0.0.1:5000/v2/app/tags/list?last=b&n=2",
            id="absolute-url",
        ),
        pytest.param(
            "<list?last=b>; rel=next",
            "http://127.0.0.1:5000/v2/app/tags/list?last=b",
            id="relative-to-the-current-page",
        ),
        pytest.param(
            '</prev>; rel="prev", </v2/app/tags/list?last=c>; rel="next"',
            "http://127.0.0.1:5000/v2/app/tags/list?last=c",
            id="next-among-others",
        ),
        pytest.param(
            '</v2/app/tags/list?last=team%2Fb>; rel="next"',
            "http://127.0.0.1:5000/v2/app/tags/list?last=team%2Fb",
            id="percent-encoding-kept",
        ),
        pytest.param('</prev>; rel="prev"', None, id="no-next"),
        pytest.param("", None, id="empty"),
    ],
)
def test_the_next_page_is_found_and_resolved(header: str, expected: str | None) -> None:
    found = next_page_url(header, current=CURRENT, registry="r")
    assert (None if found is None else str(found)) == expected


def test_a_next_page_on_another_host_is_refused() -> None:
    with pytest.raises(RegistryProtocolError, match="points to another host") as caught:
        next_page_url('<https://evil.example/v2/x>; rel="next"', current=CURRENT, registry="r")
    assert "\n" not in str(caught.value)


_targets = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/?=&.-_%", min_size=1, max_size=40)


@given(
    targets=st.lists(_targets, max_size=4),
    rels=st.lists(st.sampled_from(["next", "prev"]), min_size=4, max_size=4),
)
def test_every_link_in_a_header_is_read_back(targets: list[str], rels: list[str]) -> None:
    header = ", ".join(f'<{t}>; rel="{r}"' for t, r in zip(targets, rels, strict=False))
    links = parse_links(header)
    assert [t for t, _ in links] == targets
    assert [set(r) for _, r in links] == [{r} for r in rels[: len(targets)]]
