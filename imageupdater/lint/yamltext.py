"""Reading lint input: strict YAML, its errors as findings, and telling templates apart.

A Helm or Go template is not YAML until it is rendered, so it is recognised and skipped
instead of reported as broken YAML; a file meant to be YAML that does not parse stays one
finding with its line. Template expressions inside YAML strings (an ApplicationSet's
``'{{ .path.basename }}'``, a ConfigMap's block scalar) do not make a file a template.
"""

from __future__ import annotations

__all__ = ["StrictLoader", "is_go_template", "template_expression", "yaml_finding"]

import re
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode
from yaml.reader import ReaderError
from yaml.tokens import FlowMappingStartToken, Token

from imageupdater.lint.findings import LintFinding

# A Go template action (also ApplicationSet's fasttemplate `{{path}}`): our own fixed
# pattern, lazy and linear, so stdlib re is fine here (RE2 is for user-supplied ones).
_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_SHOWN_ACTION = 60


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}; YAML would keep only the last value",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def template_expression(text: str) -> str | None:
    """The first ``{{ ... }}`` expression in ``text`` (shortened for a message), if any."""
    found = _ACTION.search(text) if "{{" in text else None
    if found is None:
        return None
    action = found.group(0)
    return action if len(action) <= _SHOWN_ACTION else action[: _SHOWN_ACTION - 3] + "...}}"


def is_go_template(text: str) -> bool:
    """Whether ``text`` has a ``{{ ... }}`` action outside YAML strings.

    YAML reads such an action as two nested flow mappings (``{`` ``{``), which no manifest
    means; an action inside a quoted, plain or block scalar is part of a string value.
    """
    if "{{" not in text:
        return False
    starts = [found.start() for found in _ACTION.finditer(text)]
    if not starts:
        return False
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError:  # unreadable characters: the YAML error says so
        return False
    flow_starts: set[int] = set()

    def record(token: Token) -> None:
        if isinstance(token, FlowMappingStartToken):
            flow_starts.add(token.start_mark.index)

    try:
        while loader.check_token():
            # types-PyYAML leaves get_token unannotated; it returns the next Token.
            record(loader.get_token())  # type: ignore[no-untyped-call]
    except yaml.YAMLError:
        # Template syntax usually breaks the scan soon after `{{`; the tokens read up to
        # the error are still queued.
        for token in loader.tokens:
            record(token)
    finally:
        loader.dispose()
    return any(start in flow_starts and start + 1 in flow_starts for start in starts)


def yaml_finding(err: yaml.YAMLError, text: str, source: str) -> LintFinding:
    """One finding for unreadable YAML, with its line when YAML says where."""
    line: int | None = None
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        if mark is not None:
            line = mark.line + 1
        reason = err.problem or err.context or "unreadable YAML"
    elif isinstance(err, ReaderError):
        line = text.count("\n", 0, err.position) + 1
        reason = str(err).splitlines()[0]
    else:
        reason = str(err).splitlines()[0] if str(err) else "unreadable YAML"
    return LintFinding(source, f"invalid YAML: {reason}", line=line)
