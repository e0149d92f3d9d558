"""Several ImageUpdaters selecting one Application: only the most specific acts ("no thrash"),
ties go by name, and the others stand back with a reason."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from imageupdater.imageupdaters import ImageUpdater, Unusable, arbitrate, parse
from tests.imageupdaters.builders import app, image, parsed, ref, resource


def updater(name: str, *refs: dict[str, Any], namespace: str = "argocd") -> ImageUpdater:
    return parsed(resource(*refs, name=name, namespace=namespace))


def test_no_resource_selecting_means_no_winner() -> None:
    result = arbitrate([updater("a", ref("web-*"))], app("api"))
    assert result.winner is None
    assert result.superseded == ()


def test_a_single_resource_acts_alone() -> None:
    result = arbitrate([updater("a", ref("web-*"))], app("web-1"))
    assert result.winner is not None
    assert result.winner.updater.name == "a"
    assert result.superseded == ()


def test_the_most_specific_selecting_ref_wins_across_resources() -> None:
    # Upstream's documented thrash: CR-A `app-1` and CR-B `app-*` both update app-1.
    a = updater("cr-a", ref("app-1", image("nginx", "nginx:1.20")))
    b = updater("cr-b", ref("app-*", image("nginx", "nginx:1.21")))
    result = arbitrate([b, a], app("app-1"))
    assert result.winner is not None
    assert result.winner.updater.name == "cr-a"
    [superseded] = result.superseded
    assert superseded.binding.updater.name == "cr-b"
    assert "updated by ImageUpdater 'cr-a'" in superseded.message
    assert "more specific" in superseded.message


@pytest.mark.parametrize("order", list(itertools.permutations(["zeta", "alpha", "mid"])))
def test_equally_specific_resources_are_ordered_by_name_whatever_the_listing_order(
    order: tuple[str, ...],
) -> None:
    updaters = [updater(name, ref("web-*")) for name in order]
    result = arbitrate(updaters, app("web-1"))
    assert result.winner is not None
    assert result.winner.updater.name == "alpha"
    assert [d.binding.updater.name for d in result.superseded] == ["mid", "zeta"]
    assert "comes first by name" in result.superseded[0].message


def test_labels_count_toward_the_specificity_that_decides() -> None:
    named = updater("named", ref("web-*"))
    labelled = updater("labelled", ref("*", labelSelectors={"matchLabels": {"team": "a"}}))
    result = arbitrate([named, labelled], app("web-1", team="a"))
    assert result.winner is not None
    assert result.winner.updater.name == "labelled"


def test_a_resource_in_another_namespace_never_competes() -> None:
    here = updater("here", ref("*"))
    there = updater("aaa", ref("web-1"), namespace="other")
    result = arbitrate([there, here], app("web-1"))
    assert result.winner is not None
    assert result.winner.updater.name == "here"
    assert result.superseded == ()


def test_an_unusable_most_specific_ref_still_holds_the_application() -> None:
    broken = updater_with_errors("broken", ref("web-1", image(name="nginx:latest")))
    broad = updater("broad", ref("web-*"))
    result = arbitrate([broad, broken], app("web-1"))
    assert result.winner is not None
    assert result.winner.updater.name == "broken"
    assert isinstance(result.winner.source, Unusable)


def updater_with_errors(name: str, *refs: dict[str, Any]) -> ImageUpdater:
    result = parse(resource(*refs, name=name))
    assert result.errors and result.updater is not None
    return result.updater
