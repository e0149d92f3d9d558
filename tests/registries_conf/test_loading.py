"""Loading registries.conf from disk: missing files, unreadable files, CA files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imageupdater.errors import InvalidRegistriesConf
from imageupdater.registries_conf import BUILTIN_DOCKER_HUB, RegistriesConf


def test_no_path_gives_the_built_in_defaults() -> None:
    conf = RegistriesConf.load(None)
    assert conf.endpoints == (BUILTIN_DOCKER_HUB,)
    assert conf.source == "<built-in>"


def test_a_missing_file_gives_the_built_in_defaults(tmp_path: Path) -> None:
    assert RegistriesConf.load(tmp_path / "registries.conf") == RegistriesConf()


def test_a_file_is_parsed_with_its_path_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "registries.conf"
    path.write_text("registries:\n- name: a\n  api_url: https://a.io\n  prefix: a.io\n")
    conf = RegistriesConf.load(path)
    assert conf.source == str(path)
    assert conf.lookup("a.io", "x").name == "a"
    path.write_text("registries:\n- name: a\n")
    with pytest.raises(
        InvalidRegistriesConf, match=rf"^{re.escape(str(path))}: line 2: .*'api_url' is required"
    ):
        RegistriesConf.load(path)


def test_a_directory_in_place_of_the_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRegistriesConf, match=r"cannot read registries\.conf"):
        RegistriesConf.load(tmp_path)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "registries.conf"
    path.write_bytes(b"registries: \xff\n")
    with pytest.raises(InvalidRegistriesConf, match="not valid UTF-8"):
        RegistriesConf.load(path)


def test_a_ca_file_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "registries.conf"
    ca = tmp_path / "ca.pem"
    path.write_text(
        f"registries:\n- name: a\n  api_url: https://a.io\n  prefix: a.io\n  ca_file: {ca}\n"
    )
    with pytest.raises(
        InvalidRegistriesConf, match=re.escape(f"ca_file '{ca}' is not a readable file")
    ):
        RegistriesConf.load(path)
    ca.write_text("pem")
    assert RegistriesConf.load(path).lookup("a.io", "x").ca_file == str(ca)


def test_a_conf_must_have_exactly_one_default() -> None:
    with pytest.raises(InvalidRegistriesConf, match="exactly one registry must be the default"):
        RegistriesConf(endpoints=())
