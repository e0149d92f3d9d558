"""One status-to-error table serves the Kubernetes and the Argo CD adapters."""

from __future__ import annotations

import pytest

from imageupdater.errors import (
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeGone,
    KubeInvalid,
    KubeNotFound,
    KubeUnavailable,
    kube_error,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0, KubeUnavailable),  # no answer at all
        (302, KubeUnavailable),
        (400, KubeInvalid),
        (401, KubeForbidden),
        (403, KubeForbidden),
        (404, KubeNotFound),
        (405, KubeInvalid),
        (408, KubeUnavailable),
        (409, KubeConflict),
        (410, KubeGone),
        (413, KubeInvalid),
        (415, KubeInvalid),
        (422, KubeInvalid),
        (429, KubeUnavailable),
        (499, KubeInvalid),
        (500, KubeUnavailable),
        (503, KubeUnavailable),
        (504, KubeUnavailable),
    ],
)
def test_each_status_has_one_error(status: int, expected: type[KubeError]) -> None:
    error = kube_error(status, "get applications argocd/web: nope")
    assert type(error) is expected
    assert error.status == status
    assert str(error) == "get applications argocd/web: nope"


@pytest.mark.parametrize(
    ("status", "transient"),
    [(400, False), (403, False), (404, False), (409, True), (410, True), (429, True), (500, True)],
)
def test_only_answers_a_later_retry_can_cure_are_transient(status: int, transient: bool) -> None:
    assert kube_error(status, "x").transient is transient
