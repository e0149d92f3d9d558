"""TagInfo: one tag as a strategy sees it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from imageupdater.tags import TagInfo


def test_a_tag_without_metadata_has_only_a_name() -> None:
    info = TagInfo("1.0")
    assert (info.digest, info.created, dict(info.labels)) == (None, None, {})


def test_each_tag_gets_its_own_empty_labels() -> None:
    first, second = TagInfo("a"), TagInfo("b")
    assert first.labels is not second.labels


def test_tags_with_labels_are_still_hashable() -> None:
    info = TagInfo("1.0", labels={"org.opencontainers.image.version": "1.0"})
    assert {info, TagInfo("1.0")} == {TagInfo("1.0"), info}


def test_created_is_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    info = TagInfo("1.0", created=datetime(2024, 5, 1, 12, 0, tzinfo=plus_two))
    assert info.created == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert info.created is not None and info.created.utcoffset() == timedelta(0)


def test_a_naive_creation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TagInfo("1.0", created=datetime(2024, 5, 1, 12, 0))
