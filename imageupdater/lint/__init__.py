"""Checking Argo CD manifests in YAML text, as ``image-updater lint`` does.

Every ``argoproj.io/v1alpha1`` ``Application`` (also inside ``kind: List`` and
``ApplicationList`` items) gets the same review (``imageupdater.review``: parse and checks)
the admission webhook gives it, so lint reports exactly what ``kubectl apply`` would be told,
warnings included; an ``ApplicationSet`` gets it for its Application template, template
expressions set aside. YAML that cannot be read is one finding with its line, never a
traceback, and a duplicated mapping key (which YAML readers silently resolve to the last
value) is one too; a Helm or Go template is a note, as it is not YAML until rendered.

Modules: ``findings`` (the output line), ``yamltext`` (reading YAML, recognising templates),
``checks`` (one review, template-aware), ``documents`` (which resources are checked) and
``paths`` (``--exclude`` and Helm chart layout, pure rules for the command's file walk).
"""

from __future__ import annotations

__all__ = [
    "CHART_FILE",
    "TEMPLATE_SKIPPED",
    "LintFinding",
    "LintSeverity",
    "chart_template",
    "excluded",
    "is_go_template",
    "lint_documents",
    "template_skipped",
]

from imageupdater.lint.documents import lint_documents
from imageupdater.lint.findings import TEMPLATE_SKIPPED, LintFinding, LintSeverity, template_skipped
from imageupdater.lint.paths import CHART_FILE, chart_template, excluded
from imageupdater.lint.yamltext import is_go_template
