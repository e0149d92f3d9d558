"""The install harness lives in ``devcluster.installer`` (``python -m devcluster install``
uses it too); the tests import it from here."""

from devcluster.installer import (
    BINARY,
    NAMESPACE,
    ROOT,
    Component,
    component,
    install_docs,
    kubectl,
    render,
)

__all__ = [
    "BINARY",
    "NAMESPACE",
    "ROOT",
    "Component",
    "component",
    "install_docs",
    "kubectl",
    "render",
]
