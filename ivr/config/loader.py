"""YAML with positions: every scalar, list and mapping keeps its ``file:line:col``.

PyYAML's ``compose`` gives the node tree with marks; we turn it into small typed
values (:class:`YScalar`, :class:`YSeq`, :class:`YMap`) that the compiler reads.
Duplicate keys are kept (PyYAML's constructor would silently keep the last one) so the
compiler can report them where it knows what they mean (a duplicate node id).
Only the safe loader is used: tags that name Python objects are a syntax error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ivr.config.diagnostics import Diagnostic, Mark, Severity

#: A flows file bigger than this is a mistake (a wrong path, a generated dump), not a
#: hotline: refuse it rather than spend seconds parsing it on every reload.
MAX_FLOWS_FILE_BYTES = 2_000_000


@dataclass(frozen=True, slots=True)
class YScalar:
    value: Any
    mark: Mark
    quoted: bool = False
    """Written in quotes: always literal text, never a variable reference."""


@dataclass(frozen=True, slots=True)
class YSeq:
    items: tuple[YValue, ...]
    mark: Mark


@dataclass(frozen=True, slots=True)
class YMap:
    items: tuple[tuple[YScalar, YValue], ...]
    """Key/value pairs in file order, without the duplicates."""
    mark: Mark
    duplicates: tuple[tuple[YScalar, YScalar], ...] = ()
    """(first key, repeated key) for every key written twice."""

    def get(self, key: str) -> YValue | None:
        for k, v in self.items:
            if k.value == key:
                return v
        return None

    def key_mark(self, key: str) -> Mark:
        for k, _ in self.items:
            if k.value == key:
                return k.mark
        return self.mark

    def keys(self) -> list[str]:
        return [str(k.value) for k, _ in self.items]


YValue = YScalar | YSeq | YMap
#: Lists and mappings may carry only YAML's own tags; ``!!python/...`` is refused.
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


def _mark(path: str, m: yaml.Mark) -> Mark:
    return Mark(path, m.line + 1, m.column + 1)


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        # A throwaway SafeLoader gives us YAML 1.1 scalar resolution (ints, bools, null).
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node) -> YValue:
        mark = _mark(self.path, node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            value = self._constructor.construct_object(node)
            return YScalar(value, mark, quoted=node.style in ("'", '"'))
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            raise yaml.MarkedYAMLError(
                problem=f"tag {node.tag!r} is not allowed (flows are plain YAML)",
                problem_mark=node.start_mark,
            )
        if isinstance(node, yaml.SequenceNode):
            return YSeq(tuple(self.build(child) for child in node.value), mark)
        if isinstance(node, yaml.MappingNode):
            items: list[tuple[YScalar, YValue]] = []
            seen: dict[Any, YScalar] = {}
            dups: list[tuple[YScalar, YScalar]] = []
            for key_node, value_node in node.value:
                key = self.build(key_node)
                if not isinstance(key, YScalar):
                    raise yaml.MarkedYAMLError(
                        problem="a key must be a plain word or number",
                        problem_mark=key_node.start_mark,
                    )
                hashable = str(key.value)
                if hashable in seen:
                    dups.append((seen[hashable], key))
                    continue
                seen[hashable] = key
                items.append((key, self.build(value_node)))
            return YMap(tuple(items), mark, tuple(dups))
        raise TypeError(f"unexpected YAML node {node!r}")  # pragma: no cover - PyYAML has 3 kinds


def _compose(text: str) -> yaml.Node | None:
    """libyaml's parser when present (about ten times faster: reloads run on the event
    loop); on any error parse again in pure Python, whose messages are the documented ones."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _plain_syntax_error(problem: str, context: str) -> tuple[str, bool] | None:
    """PyYAML's wording for the slips supervisors make (a tab, a line indented one space
    off, a missing ':'), said in plain words with the fix; ``None`` keeps PyYAML's text.
    The flag says the context mark (where the key starts) is the better position."""
    if "'\\t'" in problem:
        return "a tab character: indent with spaces only", False
    if problem == "mapping values are not allowed here":
        return ("unexpected ':' here: check this line's indentation and that the line "
                "above has its ':' (quote a value that contains ': ')"), False
    if problem == "could not find expected ':'" and context == "while scanning a simple key":
        return "this key has no ':' after it", True
    if problem.startswith("expected <block end>"):
        if "'<scalar>'" in problem:
            return ("this line does not line up with the lines above it: check its "
                    "indentation, and that the quotes on the line above are closed"), False
        if context == "while parsing a block collection":
            return ("this line does not line up with the list above it: every entry of "
                    "the list starts with '- ' in the same column"), False
        return ("this line does not line up with the lines above it: keys of one mapping "
                "start in the same column"), False
    return None


def load_yaml(text: str, path: str) -> tuple[YValue | None, list[Diagnostic]]:
    """Parse ``text``; on a syntax error return ``None`` and one diagnostic."""
    if len(text) > MAX_FLOWS_FILE_BYTES:
        return None, [
            Diagnostic(
                Mark(path, 1, 1),
                Severity.ERROR,
                f"file is larger than {MAX_FLOWS_FILE_BYTES} bytes; is this a flows file?",
            )
        ]
    try:
        node = _compose(text)
        if node is None:
            return None, [Diagnostic(Mark(path, 1, 1), Severity.ERROR, "the file is empty")]
        return _Builder(path).build(node), []
    except yaml.MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        plain = _plain_syntax_error(exc.problem or "", exc.context or "")
        if plain is not None and plain[1] and exc.context_mark is not None:
            where = exc.context_mark
        mark = _mark(path, where) if where is not None else Mark(path, 1, 1)
        if plain is not None:
            problem = plain[0]
        else:
            problem = exc.problem or "cannot parse"
            if exc.context:
                problem = f"{problem} ({exc.context})"
        return None, [Diagnostic(mark, Severity.ERROR, f"YAML syntax: {problem}")]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(Mark(path, 1, 1), Severity.ERROR, f"YAML syntax: {exc}")]
