"""Strict YAML reading for registries.conf: line numbers, duplicate keys, expected shapes."""

from __future__ import annotations

__all__ = ["Located", "read_entries"]

from dataclasses import dataclass, field

import yaml

from imageupdater.errors import InvalidRegistriesConf


@dataclass(frozen=True, slots=True)
class Located:
    """One ``registries:`` entry as read from YAML, with the line of each key (1-based)."""

    line: int
    values: dict[str, object] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def read_entries(text: str, *, source: str) -> list[Located]:
    """The mappings under ``registries:``; YAML errors, duplicate keys and odd shapes raise."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return []
        top = _mapping(loader, root, source, "the top level")
        for key, (_, line) in top.items():
            if key != "registries":
                raise InvalidRegistriesConf(
                    f"{source}: line {line}: unknown top-level key {key!r}; "
                    "accepted keys: registries"
                )
        if "registries" not in top:
            return []
        node, line = top["registries"]
        if _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise InvalidRegistriesConf(f"{source}: line {line}: 'registries' must be a list")
        entries = []
        for index, item in enumerate(node.value):
            where = f"registries[{index}]"
            pairs = _mapping(loader, item, source, where)
            entries.append(
                Located(
                    line=item.start_mark.line + 1,
                    values={
                        k: loader.construct_object(v, deep=True) for k, (v, _) in pairs.items()
                    },
                    lines={k: line for k, (_, line) in pairs.items()},
                )
            )
        return entries
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "malformed YAML"
        raise InvalidRegistriesConf(f"{source}: {where}invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InvalidRegistriesConf(f"{source}: invalid YAML: {type(exc).__name__}") from None
    finally:
        loader.dispose()


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _mapping(
    loader: yaml.SafeLoader, node: yaml.Node, source: str, where: str
) -> dict[str, tuple[yaml.Node, int]]:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise InvalidRegistriesConf(f"{source}: line {line}: {where} must be a mapping")
    pairs: dict[str, tuple[yaml.Node, int]] = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            raise InvalidRegistriesConf(
                f"{source}: line {key_line}: {where}: keys must be strings, got {key!r}"
            )
        if key in pairs:
            raise InvalidRegistriesConf(
                f"{source}: line {key_line}: {where}: duplicate key {key!r}"
            )
        pairs[key] = (value_node, key_line)
    return pairs
