"""The one quoting rule of the git write-back: a plain scalar must read back as the same string."""

from __future__ import annotations

import io

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from imageupdater.gitops.yamlscalars import needs_quotes

_RETYPED = ["1.20", "on", "off", "yes", "no", "y", "n", "true", "False", "null", "Null", "~",
            "0755", "0o17", "0x1f", "10", "-3", "+4", "1e3", "1_000", "1:30", ".5", ".inf",
            "2024-01-01", "2024-01-01T10:00:00Z", ""]  # fmt: skip
_PLAIN = ["v1.2.3", "1.2.3", "nginx", "latest", "sha256:abc", "registry.io/org/app",
          "1.2.3-rc.1", "stable-1.20", "main"]  # fmt: skip


@pytest.mark.parametrize("value", _RETYPED, ids=repr)
def test_a_value_yaml_would_retype_needs_quotes(value: str) -> None:
    assert needs_quotes(value)


@pytest.mark.parametrize("value", _PLAIN, ids=repr)
def test_an_ordinary_image_tag_or_name_stays_plain(value: str) -> None:
    assert not needs_quotes(value)


def _ruamel_load(text: str) -> object:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


@given(st.text(alphabet=st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=12))
def test_a_value_written_plain_reads_back_as_the_same_string_in_yaml_1_1_and_1_2(
    value: str,
) -> None:
    if needs_quotes(value):
        return
    document = f"key: {value}\n"
    try:
        assert yaml.safe_load(document) == {"key": value}
        assert _ruamel_load(document) == {"key": value}
    except yaml.YAMLError:
        raise AssertionError(f"{value!r} was judged plain but does not parse") from None
