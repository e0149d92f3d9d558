"""A kustomization's ``images:`` list edited as ``kustomize edit set image`` edits it.

Each argument ``[<name>=]<newName>[:<tag>][@<digest>]`` (split as kustomize splits image
references: a ``:`` or ``@`` counts only after the first ``/``, so a registry port is not
a tag) becomes one ``images`` entry keyed by ``name``. As in kustomize (and upstream's
``ElementSetter``), the argument *replaces* the entry: ``name@digest`` drops a ``newTag``
the entry had, ``name:tag`` drops its ``digest``, ``name:tag@digest`` keeps both, and a
field the argument does not set is removed — except that ``*`` as new name, tag or digest
keeps the entry's value (kustomize's preserve marker). ``newName`` is written only when it
differs from ``name`` (renaming an image to itself is no rename). An argument with neither
tag, digest nor new name (``nginx``) leaves an entry with only its name, as upstream's
write-back does (kustomize's CLI refuses it).

Entries are upserted in place, new ones appended, nothing re-sorted (kustomize's CLI sorts
by name; upstream's write-back does not, and neither do we). Edits are textual and proven
against the edited node tree, so field order, sequence indentation, blank lines, comments,
a leading ``---`` and ``%YAML`` directives stay byte for byte; see ``helmvalues``.
"""

from __future__ import annotations

__all__ = ["set_images"]

from collections.abc import Sequence
from dataclasses import dataclass

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from imageupdater.errors import WriteBackTargetError
from imageupdater.gitops.helmvalues import (
    Document,
    Edit,
    find_key,
    last_leaf,
    line_after,
    line_start,
    parse,
    reads_as_str,
    render,
    str_node,
    value_span,
)

_PRESERVE = "*"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_NULL = "tag:yaml.org,2002:null"


@dataclass(frozen=True, slots=True)
class _ImageArg:
    """One parsed argument; a field is ``""`` when the argument does not set it."""

    name: str
    new_name: str
    new_tag: str
    digest: str


def set_images(existing: str, images: Sequence[str], *, where: str) -> str:
    """``existing`` (a kustomization's text) with every image argument applied in order.

    Returns ``existing`` itself when nothing changes in meaning. Raises
    :class:`WriteBackTargetError` naming ``where`` for an argument that is not an image
    reference, a file that is not a single YAML mapping, or ``images`` that is not a list.
    """
    parsed = [_parse(arg, where) for arg in images]
    text, changed = existing, False
    for arg in parsed:
        updated = _apply(text, arg, where)
        if updated is not None:
            text, changed = updated, True
    return text if changed else existing


def _parse(arg: str, where: str) -> _ImageArg:
    key, equals, value = arg.partition("=")
    if not equals:
        key, value = "", arg
    name, tag, digest = _split(value)
    if not name or (equals and not key):
        raise WriteBackTargetError(
            f"{where}: invalid image {arg!r}: expected [<name>=]<newName>[:<tag>][@<digest>]"
        )
    if not key:
        return _ImageArg(name, "", tag, digest)
    return _ImageArg(key, "" if name == key else name, tag, digest)


def _split(reference: str) -> tuple[str, str, str]:
    """kustomize's image.Split: name, tag, digest; ``:``/``@`` count after the first ``/``."""
    slash = reference.find("/")
    offset = slash if slash > 0 else 0
    search = reference[offset:]
    at, colon = search.find("@"), search.find(":")
    if at < 0 and colon < 0:
        return reference, "", ""
    if at >= 0 and (at < colon or colon < 0):
        return reference[: offset + at], "", reference[offset + at + 1 :]
    if at >= 0:
        return (
            reference[: offset + colon],
            reference[offset + colon + 1 : offset + at],
            reference[offset + at + 1 :],
        )
    return reference[: offset + colon], reference[offset + colon + 1 :], ""


def _apply(text: str, arg: _ImageArg, where: str) -> str | None:
    doc = parse(text, where)
    root = doc.root
    if root is None:
        raise WriteBackTargetError(f"{where}: holds no YAML document, a kustomization was expected")
    if not isinstance(root, MappingNode):
        raise WriteBackTargetError(
            f"{where}: the top level is a {_kind(root)}, a kustomization mapping was expected"
        )
    images = find_key(root, "images")
    if images is None:
        item = _new_item(arg, None)
        edits = _append_images_key(doc, root, item)
        root.value.append((str_node("images"), _block_sequence([item])))
        return doc.commit(root, edits, where)
    if isinstance(images, ScalarNode) and images.tag == _NULL:
        item = _new_item(arg, None)
        edits = _fill_null_images(doc, root, images, item)
        for i, (key, value) in enumerate(root.value):
            if value is images:
                root.value[i] = (key, _block_sequence([item]))
        return doc.commit(root, edits, where)
    if not isinstance(images, SequenceNode):
        raise WriteBackTargetError(f"{where}: images is a {_kind(images)}, a list was expected")
    for index, element in enumerate(images.value):
        if not isinstance(element, MappingNode):
            raise WriteBackTargetError(
                f"{where}: images[{index}] is a {_kind(element)}, a mapping was expected"
            )
        name = find_key(element, "name")
        if isinstance(name, ScalarNode) and name.value == arg.name:
            return _update_element(doc, root, element, arg, where)
    item = _new_item(arg, None)
    if images.value:
        edits = _append_item(doc, images, item)
    else:
        edits = _fill_empty_flow(doc, root, images, item)
        images.flow_style = False
    images.value.append(item)
    return doc.commit(root, edits, where)


def _desired(arg: _ImageArg, element: MappingNode | None) -> dict[str, str]:
    """The entry's fields other than ``name``, in kustomize's order, ``*`` resolved."""
    wanted = {"newName": arg.new_name, "newTag": arg.new_tag, "digest": arg.digest}
    fields: dict[str, str] = {}
    for key, value in wanted.items():
        if value == _PRESERVE:
            current = find_key(element, key) if element is not None else None
            value = current.value if isinstance(current, ScalarNode) else ""
            if key == "newName" and value == arg.name:
                value = ""
        if value:
            fields[key] = value
    return fields


def _new_item(arg: _ImageArg, element: MappingNode | None) -> MappingNode:
    pairs = [(str_node("name"), str_node(arg.name))]
    pairs += [(str_node(k), str_node(v)) for k, v in _desired(arg, element).items()]
    return MappingNode(_MAP, pairs, flow_style=False)


def _block_sequence(items: list[Node]) -> SequenceNode:
    return SequenceNode(_SEQ, items, flow_style=False)


def _update_element(
    doc: Document, root: MappingNode, element: MappingNode, arg: _ImageArg, where: str
) -> str | None:
    desired = _desired(arg, element)
    body = doc.body
    edits: list[Edit] | None = []
    kept: list[tuple[Node, Node]] = []
    changed = False
    for index, (key, value) in enumerate(element.value):
        field = key.value if isinstance(key, ScalarNode) else None
        if field == "name":
            kept.append((key, value))
            continue
        if field not in desired:
            changed = True
            edits = _extend(edits, _remove_pair(body, element, index))
            continue
        wanted = desired.pop(field)
        if isinstance(value, ScalarNode) and value.value == wanted and reads_as_str(body, value):
            kept.append((key, value))
            continue
        changed = True
        new_value = str_node(wanted, parent_flow=element.flow_style)
        edits = _extend(edits, _replace_value(body, value, wanted))
        kept.append((key, new_value))
    if desired:
        changed = True
        added = [
            (str_node(k), str_node(v, parent_flow=element.flow_style)) for k, v in desired.items()
        ]
        edits = _extend(edits, _append_pairs(doc, element, desired))
        kept.extend(added)
    if not changed:
        return None
    element.value[:] = kept
    return doc.commit(root, edits, where)


def _extend(edits: list[Edit] | None, more: list[Edit] | None) -> list[Edit] | None:
    if edits is None or more is None:
        return None
    return edits + more


def _replace_value(text: str, node: Node, value: str) -> list[Edit] | None:
    if not isinstance(node, ScalarNode) or node.style not in (None, "'", '"'):
        return None
    start, end, properties = value_span(text, node)
    raw = text[start:end]
    if "!" in properties or "\n" in raw or not raw or (node.style is None and raw != node.value):
        return None
    return [Edit(start, end, render(value, node.style))]


def _remove_pair(text: str, element: MappingNode, index: int) -> list[Edit] | None:
    """Delete the lines of a single-line ``key: value`` pair of a block mapping."""
    if element.flow_style:
        return None
    key, value = element.value[index]
    if not isinstance(value, ScalarNode) or value.end_mark.line != key.start_mark.line:
        return None
    start = line_start(text, key.start_mark.index)
    if not text[start : key.start_mark.index].strip():
        return [Edit(start, line_after(text, value), "")]
    # the pair follows "- ": the next pair moves up onto the dash's line
    if index + 1 >= len(element.value):
        return None
    following = element.value[index + 1][0]
    if text[line_start(text, following.start_mark.index) : following.start_mark.index].strip():
        return None
    return [Edit(key.start_mark.index, following.start_mark.index, "")]


def _append_pairs(doc: Document, element: MappingNode, fields: dict[str, str]) -> list[Edit] | None:
    if element.flow_style or not element.value:
        return None
    column = element.value[0][0].start_mark.column
    pos = line_after(doc.body, last_leaf(element))
    lines = "".join(f"{' ' * column}{k}: {render(v)}{doc.newline}" for k, v in fields.items())
    return [Edit(pos, pos, _after_newline(doc.body, pos, doc.newline) + lines)]


def _item_lines(item: MappingNode, dash: int, content: int, newline: str) -> str:
    lines = []
    for i, (key, value) in enumerate(item.value):
        pad = " " * dash + "-" + " " * (content - dash - 1) if i == 0 else " " * content
        lines.append(f"{pad}{key.value}: {render(value.value)}{newline}")
    return "".join(lines)


def _append_item(doc: Document, images: SequenceNode, item: MappingNode) -> list[Edit] | None:
    if images.flow_style or not images.value:
        return None
    first = images.value[0]
    content = first.start_mark.column
    dash_index = doc.body.rfind("-", 0, first.start_mark.index)
    dash = dash_index - line_start(doc.body, dash_index)
    if dash < 0 or content <= dash:
        return None
    pos = line_after(doc.body, last_leaf(images))
    lines = _item_lines(item, dash, content, doc.newline)
    return [Edit(pos, pos, _after_newline(doc.body, pos, doc.newline) + lines)]


def _append_images_key(doc: Document, root: MappingNode, item: MappingNode) -> list[Edit] | None:
    if root.flow_style or not root.value:
        return None
    column = root.value[0][0].start_mark.column
    pos = line_after(doc.body, last_leaf(root))
    dash = column + doc.indent.offset
    content = column + doc.indent.sequence
    lines = f"{' ' * column}images:{doc.newline}" + _item_lines(item, dash, content, doc.newline)
    return [Edit(pos, pos, _after_newline(doc.body, pos, doc.newline) + lines)]


def _fill_null_images(
    doc: Document, root: MappingNode, images: ScalarNode, item: MappingNode
) -> list[Edit] | None:
    if root.flow_style or images.start_mark.index != images.end_mark.index:
        return None  # "images: ~" and the like: re-emitted
    key = next(k for k, v in root.value if v is images)
    column = key.start_mark.column
    pos = line_after(doc.body, key)
    dash = column + doc.indent.offset
    content = column + doc.indent.sequence
    lines = _item_lines(item, dash, content, doc.newline)
    return [Edit(pos, pos, _after_newline(doc.body, pos, doc.newline) + lines)]


def _fill_empty_flow(
    doc: Document, root: MappingNode, images: SequenceNode, item: MappingNode
) -> list[Edit] | None:
    """``images: []`` becomes a block list under its key, as kustomize writes one."""
    start, end = images.start_mark.index, images.end_mark.index
    if root.flow_style or doc.body[start:end] != "[]":
        return None
    key = next(k for k, v in root.value if v is images)
    column = key.start_mark.column
    dash = column + doc.indent.offset
    content = column + doc.indent.sequence
    lines = _item_lines(item, dash, content, doc.newline)
    pos = line_after(doc.body, images)
    # ": []" becomes ":", a comment after it stays on the key's line
    return [
        Edit(key.end_mark.index, end, ":"),
        Edit(pos, pos, _after_newline(doc.body, pos, doc.newline) + lines),
    ]


def _after_newline(text: str, pos: int, newline: str) -> str:
    """A line break to put first when inserting at ``pos`` in the middle of a last line."""
    return newline if pos == len(text) and text and not text.endswith("\n") else ""


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "mapping"
    if isinstance(node, SequenceNode):
        return "list"
    return "scalar"
