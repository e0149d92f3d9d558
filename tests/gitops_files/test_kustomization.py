"""Kustomization write-back: ``kustomize edit set image`` semantics, bytes preserved."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from imageupdater.errors import WriteBackTargetError
from imageupdater.gitops.kustomization import set_images
from imageupdater.policy import KUSTOMIZATION_FILES

WHERE = "overlays/prod/kustomization.yaml"
_HEADER = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
_DIGEST = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3"


def _images(text: str) -> Any:
    return yaml.safe_load(text)["images"]


# Upstream's Test_updateKustomizeFile vectors (git_test.go), all with "foo@sha23456".
_UPDATE_FILE = [
    pytest.param(
        "images:\n- digest: sha12345\n  name: foo\n",
        "images:\n- digest: sha23456\n  name: foo\n",
        id="sorted",
    ),
    pytest.param(
        "images:\n- name: foo\n  digest: sha12345\n",
        "images:\n- name: foo\n  digest: sha23456\n",
        id="not-sorted",
    ),
    pytest.param(
        "images:\n  - name: foo\n    digest: sha12345\n",
        "images:\n  - name: foo\n    digest: sha23456\n",
        id="indented",
    ),
    pytest.param(
        "images:\n- name: foo\n  digest: sha12345\n\nresources:\n- some-resource.yaml\n",
        "images:\n- name: foo\n  digest: sha23456\n\nresources:\n- some-resource.yaml\n",
        id="blank-lines-between-sections",
    ),
    pytest.param(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n\nimages:\n- name: foo\n  digest: sha12345\n",
        "apiVersion: kustomize.config.k8s.io/v1beta1\n\nimages:\n- name: foo\n  digest: sha23456\n",
        id="blank-lines-before-images",
    ),
    pytest.param(
        "---\nimages:\n- name: foo\n  digest: sha12345\n",
        "---\nimages:\n- name: foo\n  digest: sha23456\n",
        id="preserves leading document-start marker",
    ),
    pytest.param(
        "# leading comment\n---\nimages:\n- name: foo\n  digest: sha12345\n",
        "# leading comment\n---\nimages:\n- name: foo\n  digest: sha23456\n",
        id="preserves marker after a leading comment",
    ),
    pytest.param(
        "# leading comment\nimages:\n- name: foo\n  digest: sha12345\n",
        "# leading comment\nimages:\n- name: foo\n  digest: sha23456\n",
        id="preserves a leading comment when no marker is present",
    ),
    pytest.param(
        "\nimages:\n- name: foo\n  digest: sha12345\n",
        "\nimages:\n- name: foo\n  digest: sha23456\n",
        id="preserves a leading blank line when no marker is present",
    ),
    pytest.param(
        "\n---\nimages:\n- name: foo\n  digest: sha12345\n",
        "\n---\nimages:\n- name: foo\n  digest: sha23456\n",
        id="preserves marker after a leading blank line",
    ),
    pytest.param(
        "%YAML 1.2\n---\nimages:\n- name: foo\n  digest: sha12345\n",
        "%YAML 1.2\n---\nimages:\n- name: foo\n  digest: sha23456\n",
        id="preserves marker after a leading YAML directive",
    ),
]


@pytest.mark.parametrize(("existing", "expected"), _UPDATE_FILE)
def test_upstream_update_kustomize_file_vectors(existing: str, expected: str) -> None:
    assert set_images(existing, ["foo@sha23456"], where=WHERE) == expected


def test_upstream_no_change_vector_returns_the_same_string() -> None:
    existing = "images:\n- name: foo\n  digest: sha23456\n"
    assert set_images(existing, ["foo@sha23456"], where=WHERE) is existing


# Upstream's Test_imagesFilter vectors: applied to a kustomization without images, the
# images list it asserts (YAMLEq), and the bytes we write for it.
_FILTER = [
    pytest.param(["foo"], "images:\n- name: foo\n", id="simple"),
    pytest.param(["foo:bar"], "images:\n- name: foo\n  newTag: bar\n", id="tagged"),
    pytest.param(
        ["baz=foo:bar"], "images:\n- name: baz\n  newName: foo\n  newTag: bar\n", id="rename"
    ),
    pytest.param(
        ["baz=foo@sha12345"],
        "images:\n- name: baz\n  newName: foo\n  digest: sha12345\n",
        id="digest",
    ),
    pytest.param(
        ["foo@sha12345"], "images:\n- name: foo\n  digest: sha12345\n", id="digest simple"
    ),
    pytest.param(
        ["foo", "foo=bar", "baz@sha12345", "bar:123", "foo=bar:123"],
        'images:\n- name: foo\n  newName: bar\n  newTag: "123"\n- name: baz\n  digest: sha12345\n'
        '- name: bar\n  newTag: "123"\n',
        id="all",
    ),
]


@pytest.mark.parametrize(("images", "expected"), _FILTER)
def test_upstream_images_filter_vectors(images: list[str], expected: str) -> None:
    out = set_images(_HEADER, images, where=WHERE)
    assert _images(out) == yaml.safe_load(expected)["images"]
    assert out == _HEADER + expected


# Upstream's Test_parseImageOverride vectors: how an argument splits into the entry.
_PARSE = [
    pytest.param(
        "ghcr.io:1234/foo/foo:123",
        {"name": "ghcr.io:1234/foo/foo", "newTag": "123"},
        id="tag update",
    ),
    pytest.param(
        "ghcr.io:1234/foo/foo=ghcr.io:1234/bar",
        {"name": "ghcr.io:1234/foo/foo", "newName": "ghcr.io:1234/bar"},
        id="image update",
    ),
    pytest.param(
        "ghcr.io:1234/foo/foo=1234.foo.com:9876/bar:123",
        {"name": "ghcr.io:1234/foo/foo", "newName": "1234.foo.com:9876/bar", "newTag": "123"},
        id="update everything",
    ),
    pytest.param(
        "ghcr.io:1234/foo/foo=1234.dkr.ecr.us-east-1.amazonaws.com/bar:123",
        {
            "name": "ghcr.io:1234/foo/foo",
            "newName": "1234.dkr.ecr.us-east-1.amazonaws.com/bar",
            "newTag": "123",
        },
        id="change registry and tag",
    ),
    pytest.param(
        "0001.dkr.ecr.us-east-1.amazonaws.com/bar=1234.dkr.ecr.us-east-1.amazonaws.com/bar",
        {
            "name": "0001.dkr.ecr.us-east-1.amazonaws.com/bar",
            "newName": "1234.dkr.ecr.us-east-1.amazonaws.com/bar",
        },
        id="change only registry",
    ),
    pytest.param(
        "foo=acme/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        {
            "name": "foo",
            "newName": "acme/app",
            "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        },
        id="change image and set digest",
    ),
    pytest.param(
        "acme/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        {
            "name": "acme/app",
            "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        },
        id="set digest",
    ),
]


@pytest.mark.parametrize(("arg", "entry"), _PARSE)
def test_upstream_parse_image_override_vectors(arg: str, entry: dict[str, str]) -> None:
    assert _images(set_images(_HEADER, [arg], where=WHERE)) == [entry]


# kustomize's own TestSetImage vectors (setimage_test.go): its entries, compared as data
# because kustomize re-sorts keys and we keep the file's order.
_KUSTOMIZE = [
    pytest.param(
        "",
        ["image1=my-image1:1234"],
        [{"name": "image1", "newName": "my-image1", "newTag": "1234"}],
        id="numeric tag",
    ),
    pytest.param(
        "",
        ["image1=my-image1:3.2e2"],
        [{"name": "image1", "newName": "my-image1", "newTag": "3.2e2"}],
        id="float-looking tag",
    ),
    pytest.param(
        "",
        [f"my-image1:my-tag@{_DIGEST}"],
        [{"name": "my-image1", "newTag": "my-tag", "digest": _DIGEST}],
        id="tag and digest",
    ),
    pytest.param(
        "",
        ["ngnix=localhost:5000/my-project/ngnix:dev-01"],
        [{"name": "ngnix", "newName": "localhost:5000/my-project/ngnix", "newTag": "dev-01"}],
        id="registry port is not a tag",
    ),
    pytest.param(
        "images:\n- name: image1\n  newName: my-image1\n  newTag: my-tag\n"
        "- name: image2\n  newName: my-image2\n  newTag: my-tag2\n",
        ["image1=foo.bar.foo:8800/foo/image1:foo-bar"],
        [
            {"name": "image1", "newName": "foo.bar.foo:8800/foo/image1", "newTag": "foo-bar"},
            {"name": "image2", "newName": "my-image2", "newTag": "my-tag2"},
        ],
        id="override file",
    ),
    pytest.param(
        "images:\n- name: image1\n  newTag: my-tag\n",
        ["image1:v1"],
        [{"name": "image1", "newTag": "v1"}],
        id="override new tag with a new tag",
    ),
    pytest.param(
        "images:\n- name: image1\n  newName: my-image1\n  newTag: my-tag1\n"
        "- name: image2\n  newName: my-image2\n  newTag: my-tag2\n"
        "- name: image3\n  newTag: my-tag\n",
        [
            "image1=foo.bar.foo:8800/foo/image1:foo-bar",
            f"image2=my-image2@{_DIGEST}",
            "image3:my-tag",
        ],
        [
            {"name": "image1", "newName": "foo.bar.foo:8800/foo/image1", "newTag": "foo-bar"},
            {"name": "image2", "newName": "my-image2", "digest": _DIGEST},
            {"name": "image3", "newTag": "my-tag"},
        ],
        id="multiple args with multiple overrides",
    ),
    pytest.param(
        "images:\n- name: image1\n  newName: foo.bar.foo:8800/foo/image1\n  newTag: my-tag\n",
        ["image1=*:v1"],
        [{"name": "image1", "newName": "foo.bar.foo:8800/foo/image1", "newTag": "v1"}],
        id="override new tag but keep new name",
    ),
    pytest.param(
        "images:\n- name: image1\n  newName: foo.bar.foo:8800/foo/image1\n  newTag: my-tag\n",
        ["image1=my-image1:*"],
        [{"name": "image1", "newName": "my-image1", "newTag": "my-tag"}],
        id="override new name but keep new tag",
    ),
    pytest.param(
        "images:\n- name: image1\n  newName: my-image1\n  newTag: my-tag\n",
        ["image1=*:*"],
        [{"name": "image1", "newName": "my-image1", "newTag": "my-tag"}],
        id="keep new name and new tag",
    ),
    pytest.param(
        "images:\n- name: image1\n  newTag: my-tag\n",
        ["image1=*:v1"],
        [{"name": "image1", "newTag": "v1"}],
        id="do not set asterisk as new name for existing image",
    ),
    pytest.param("", ["image1=*:v1"], [{"name": "image1", "newTag": "v1"}], id="no asterisk name"),
    pytest.param(
        "",
        ["image1=my-image1:*"],
        [{"name": "image1", "newName": "my-image1"}],
        id="no asterisk tag",
    ),
    pytest.param(
        "images:\n- name: image2\n  newName: my-image2\n  digest: sha256:abcdef12345\n",
        [f"image2=*@{_DIGEST}"],
        [{"name": "image2", "newName": "my-image2", "digest": _DIGEST}],
        id="keep new name and update digest",
    ),
    pytest.param(
        "images:\n- name: image2\n  newName: my-image2\n  newTag: my-tag\n",
        [f"image2=*@{_DIGEST}"],
        [{"name": "image2", "newName": "my-image2", "digest": _DIGEST}],
        id="keep new name remove tag and set digest",
    ),
    pytest.param(
        f"images:\n- digest: {_DIGEST}\n  name: image2\n  newName: foo.bar.foo:8800/foo/image1\n",
        ["image2=my-image2@*"],
        [{"name": "image2", "newName": "my-image2", "digest": _DIGEST}],
        id="update new name and keep the digest",
    ),
]


@pytest.mark.parametrize(("images_yaml", "args", "entries"), _KUSTOMIZE)
def test_kustomize_edit_set_image_vectors(
    images_yaml: str, args: list[str], entries: list[dict[str, str]]
) -> None:
    out = set_images(_HEADER + images_yaml, args, where=WHERE)
    assert _images(out) == entries


# ----------------------------------------------------------------------------- behaviour


def test_a_digest_only_argument_drops_the_entrys_tag() -> None:
    existing = "images:\n- name: nginx\n  newTag: 1.25.0  # pinned\nresources:\n- a.yaml\n"
    out = set_images(existing, ["nginx@sha256:abc"], where=WHERE)
    assert out == "images:\n- name: nginx\n  digest: sha256:abc\nresources:\n- a.yaml\n"


def test_a_tag_only_argument_drops_the_entrys_digest() -> None:
    existing = "images:\n- digest: sha256:abc\n  name: nginx\n"
    out = set_images(existing, ["nginx:1.2.3"], where=WHERE)
    assert out == "images:\n- name: nginx\n  newTag: 1.2.3\n"


def test_a_tag_and_digest_argument_keeps_both() -> None:
    existing = "images:\n- name: nginx\n  newTag: 1.2.2\n"
    out = set_images(existing, ["nginx:1.2.3@sha256:abc"], where=WHERE)
    assert out == "images:\n- name: nginx\n  newTag: 1.2.3\n  digest: sha256:abc\n"


def test_new_name_is_written_only_when_it_differs_from_name() -> None:
    out = set_images(_HEADER, ["nginx=nginx:1.2", "app=reg.io/app:2.0"], where=WHERE)
    assert _images(out) == [
        {"name": "nginx", "newTag": "1.2"},
        {"name": "app", "newName": "reg.io/app", "newTag": "2.0"},
    ]


def test_a_rename_back_to_the_same_name_removes_new_name() -> None:
    existing = "images:\n- name: nginx\n  newName: reg.io/nginx\n  newTag: '1.0'\n"
    out = set_images(existing, ["nginx:1.1"], where=WHERE)
    assert out == "images:\n- name: nginx\n  newTag: '1.1'\n"


def test_a_tag_yaml_would_retype_is_quoted() -> None:
    out = set_images("images:\n- name: nginx\n  newTag: v1\n", ["nginx:1.20"], where=WHERE)
    assert out == 'images:\n- name: nginx\n  newTag: "1.20"\n'


def test_a_new_entry_follows_the_lists_indentation_and_blank_lines_stay() -> None:
    existing = (
        "resources:\n  - deploy.yaml\n\n# images we pin\nimages:\n  - name: a  # first\n"
        "    newTag: v1\n\n# patches\npatches: []\n"
    )
    out = set_images(existing, ["b=reg.io/b:v2"], where=WHERE)
    assert out == existing.replace(
        "    newTag: v1\n", "    newTag: v1\n  - name: b\n    newName: reg.io/b\n    newTag: v2\n"
    )


def test_updating_one_entry_leaves_every_other_byte_alone() -> None:
    existing = (
        "# kustomization for prod\napiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n\nimages:\n- name: web   # the frontend\n"
        "  newName: ghcr.io/acme/web\n  newTag: 1.0.0\n\n- name: api\n  newTag: 2.0.0\n\n"
        "resources:\n  - web.yaml   # aligned\n  - api.yaml\n"
    )
    out = set_images(existing, ["web=ghcr.io/acme/web:1.0.1"], where=WHERE)
    assert out == existing.replace("newTag: 1.0.0", "newTag: 1.0.1")


def test_a_missing_images_key_is_appended_in_the_files_list_style() -> None:
    existing = "resources:\n  - a.yaml\n"
    out = set_images(existing, ["nginx:1.2.3"], where=WHERE)
    assert out == "resources:\n  - a.yaml\nimages:\n  - name: nginx\n    newTag: 1.2.3\n"


def test_an_empty_images_key_gets_the_list() -> None:
    out = set_images("images:\n\nresources:\n- a.yaml\n", ["nginx:1.2.3"], where=WHERE)
    assert out == "images:\n- name: nginx\n  newTag: 1.2.3\n\nresources:\n- a.yaml\n"


def test_an_empty_flow_list_becomes_a_block_list() -> None:
    out = set_images("kind: Kustomization\nimages: []\n", ["nginx:1.2.3"], where=WHERE)
    assert out == "kind: Kustomization\nimages:\n- name: nginx\n  newTag: 1.2.3\n"


def test_a_null_images_value_is_replaced_by_the_list() -> None:
    out = set_images("images: ~\n", ["nginx:1.2.3"], where=WHERE)
    assert _images(out) == [{"name": "nginx", "newTag": "1.2.3"}]


def test_fields_other_than_the_image_fields_are_dropped_as_kustomize_does() -> None:
    existing = "images:\n- name: nginx\n  tagSuffix: -debug\n  newTag: v1\n"
    out = set_images(existing, ["nginx:v2"], where=WHERE)
    assert out == "images:\n- name: nginx\n  newTag: v2\n"


def test_no_arguments_and_unchanged_arguments_return_the_same_string() -> None:
    existing = "images:\n- name: nginx\n  newTag: '1.0'\n"
    assert set_images(existing, [], where=WHERE) is existing
    assert set_images(existing, ["nginx:1.0", "nginx=nginx:1.0"], where=WHERE) is existing


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        pytest.param("a: 1\n---\nb: 2\n", "holds 2 YAML documents", id="two documents"),
        pytest.param("- a\n", "top level is a list", id="top-level list"),
        pytest.param("", "holds no YAML document", id="empty"),
        pytest.param("images: nginx\n", "images is a scalar, a list was expected", id="scalar"),
        pytest.param("images:\n  a: b\n", "images is a mapping", id="mapping images"),
        pytest.param("images:\n- nginx\n", r"images\[0\] is a scalar", id="scalar entry"),
        pytest.param("images: [\n", "not valid YAML", id="invalid YAML"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(existing: str, message: str) -> None:
    with pytest.raises(WriteBackTargetError, match=message) as caught:
        set_images(existing, ["nginx:1.2.3"], where=WHERE)
    assert str(caught.value).startswith(f"{WHERE}: ")


@pytest.mark.parametrize("arg", ["", "=nginx:1.0", ":1.0", "@sha256:abc"])
def test_an_argument_without_an_image_name_is_refused(arg: str) -> None:
    with pytest.raises(WriteBackTargetError, match="invalid image"):
        set_images(_HEADER, [arg], where=WHERE)


def test_the_recognised_file_names_are_kustomizes() -> None:
    assert KUSTOMIZATION_FILES == ("kustomization.yaml", "kustomization.yml", "Kustomization")


# ------------------------------------------------------------------------------ properties

_TAG = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=20)


@given(_TAG)
def test_any_tag_reads_back_as_exactly_that_string(tag: str) -> None:
    existing = _HEADER + "images:\n- name: nginx  # web\n  newTag: v1\n\nresources:\n- a.yaml\n"
    out = set_images(existing, [f"nginx:{tag}"], where=WHERE)
    loaded = YAML(typ="rt").load(io.StringIO(out))["images"][0]["newTag"]
    assert isinstance(loaded, str)
    assert loaded == tag
    assert _images(out) == [{"name": "nginx", "newTag": tag}]  # YAML 1.1 too


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), _TAG), max_size=4))
def test_applying_the_same_arguments_twice_equals_applying_them_once(
    pairs: list[tuple[str, str]],
) -> None:
    args = [f"{name}:{tag}" for name, tag in pairs]
    existing = _HEADER + "images:\n  - name: a\n    newTag: v0\n"
    once = set_images(existing, args, where=WHERE)
    assert set_images(once, args, where=WHERE) == once
