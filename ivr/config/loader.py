"""YAML with positions: every scalar, list and mapping keeps its ``file:line:col``.

PyYAML's ``compose`` gives the node tree with marks; we turn it into small typed
values (:class:`YScalar`, :class:`YSeq`, :class:`YMap`) that the compiler reads.
Duplicate keys are kept (PyYAML's constructor would silently keep the last one) so the
compiler can report them where it knows what they mean (a duplicate node id).
Only the safe loader is used: tags that name Python objects are a syntax error.

A flows file is edited by people and reloaded by a running server, so it must not be
able to hurt it: its size, its nesting and what its aliases copy are bounded (the
constants below), checked in one pass over the parser's events before anything is
built, and every problem is a diagnostic, never an exception. Every YAML file the
product reads (flows, prompts, scenarios, the service config file) comes through here,
with the same limits and the same ``PATH:LINE:COL: severity: message`` problems;
``kind`` names the file in the messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ivr.config.diagnostics import Diagnostic, Mark, Severity
from ivr.errors import IvrError

#: A flows file bigger than this is a mistake (a wrong path, a generated dump), not a
#: hotline (the demo hotline is 14 KB): refuse it rather than spend seconds parsing it on
#: every reload. Counted in bytes, as read: Vietnamese text is 2-3 bytes a letter.
MAX_FLOWS_FILE_BYTES = 2_000_000
#: Lists and mappings inside each other. A flows file needs about 10 levels (flows > flow >
#: nodes > node > menu > options > key > exit > set > value); the YAML composer and the
#: compiler walk the tree recursively, so thousands of levels would exhaust Python's stack.
MAX_NESTING_DEPTH = 64
#: Values that aliases (``*name``) may copy in all. An anchor saves retyping a block or
#: two; nested aliases ("billion laughs") make a 300-byte file stand for a billion values.
MAX_ALIAS_VALUES = 10_000


@dataclass(frozen=True, slots=True)
class YScalar:
    value: Any
    mark: Mark
    quoted: bool = False
    """Written in quotes: always literal text, never a variable reference."""
    text: str = field(default="", compare=False)
    """The scalar as written, before YAML typing (``yes``, ``12:30``): for files whose
    values are always texts, such as prompts."""


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


class LimitExceeded(IvrError):
    """The file goes past one of the limits above; ``diagnostic`` says which, where."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


def _limit(path: str, where: Any, message: str) -> LimitExceeded:
    """``where``: a mark of either parser (libyaml's and PyYAML's are different types)."""
    mark = _mark(path, where) if where is not None else Mark(path, 1, 1)
    return LimitExceeded(Diagnostic(mark, Severity.ERROR, message))


FLOWS_FILE = "flows file"
EMPTY_FILE = "the file is empty"


def size_problem(size: int, path: str, kind: str = FLOWS_FILE) -> Diagnostic | None:
    """The diagnostic for a file of ``size`` bytes, if that is too big."""
    if size <= MAX_FLOWS_FILE_BYTES:
        return None
    return Diagnostic(Mark(path, 1, 1), Severity.ERROR,
                      f"the file is larger than {MAX_FLOWS_FILE_BYTES} bytes, the limit for a "
                      f"{kind} (is this a {kind}?)")


def decode(data: bytes, path: str) -> tuple[str | None, list[Diagnostic]]:
    """The file's text, or None and the diagnostic for bytes that are not UTF-8."""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        # Line and column (in characters) of the first byte that is not UTF-8.
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        mark = Mark(path, data.count(b"\n", 0, exc.start) + 1, col)
        return None, [Diagnostic(mark, Severity.ERROR, "the file is not UTF-8 text")]


def read_yaml_file(path: Path, kind: str) -> tuple[YValue | None, list[Diagnostic]]:
    """Read and parse a YAML file the product reads (prompts, service config,
    scenarios): the value with positions, or None and the problems, never an exception."""
    where = str(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FLOWS_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Diagnostic(Mark(where, 1, 1), Severity.ERROR,
                                 f"cannot read: {exc.strerror or exc}")]
    too_big = size_problem(len(data), where, kind)
    if too_big is not None:
        return None, [too_big]
    text, problems = decode(data, where)
    if text is None:
        return None, problems
    return load_yaml(text, where, kind=kind)


def plain(value: YValue) -> Any:
    """The value as plain Python data (lists, dicts, scalars), positions dropped."""
    if isinstance(value, YMap):
        return {k.value: plain(v) for k, v in value.items}
    if isinstance(value, YSeq):
        return [plain(v) for v in value.items]
    return value.value


def read_flows_file(path: Path) -> bytes:
    """The file's bytes, but never much more than the limit: a wrong path to a huge file
    (or a device) is refused by :func:`size_problem` without being read into memory."""
    with path.open("rb") as fh:
        return fh.read(MAX_FLOWS_FILE_BYTES + 1)


_COLLECTION_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_COLLECTION_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


@dataclass(slots=True)
class _Open:
    """A list or mapping being read: what it will stand for once complete."""

    anchor: str | None
    values: int = 1
    levels: int = 1
    """Its own level and the deepest below it."""


def check_limits(text: str, path: str, loader: type[Any] = yaml.SafeLoader,
                 kind: str = FLOWS_FILE) -> None:
    """Raise :class:`LimitExceeded` at the first event past a limit (and PyYAML's own
    error at a syntax error). One loop over the parser's events, which is not recursive;
    an alias counts for the size and depth of what it names, never expanded: the check
    costs the same on a hostile file as on a good one, and stops at the limit."""
    anchored: dict[str, tuple[int, int]] = {}  # anchor -> (values, levels), once complete
    stack: list[_Open] = []
    copied = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, _COLLECTION_START):
            if len(stack) >= MAX_NESTING_DEPTH:
                raise _too_deep(path, event.start_mark, kind)
            stack.append(_Open(event.anchor))
            continue
        if isinstance(event, _COLLECTION_END):
            done = stack.pop()
            values, levels = done.values, done.levels
            if done.anchor is not None:
                anchored[done.anchor] = (values, levels)
        elif isinstance(event, yaml.ScalarEvent):
            values, levels = 1, 0
            if event.anchor is not None:
                anchored[event.anchor] = (values, levels)
        elif isinstance(event, yaml.AliasEvent):
            name = event.anchor or ""
            if any(o.anchor == name for o in stack):
                raise _limit(path, event.start_mark, f"alias '*{name}' is inside the value "
                             f"it names (&{name}): a value cannot contain itself")
            values, levels = anchored.get(name, (1, 0))  # undefined: the composer says so
            copied += values
            if copied > MAX_ALIAS_VALUES:
                raise _limit(path, event.start_mark, f"alias '*{name}' copies too much: "
                             f"aliases may copy at most {MAX_ALIAS_VALUES} values in a {kind} "
                             "(write the repeated part out instead)")
            if len(stack) + levels > MAX_NESTING_DEPTH:  # what it copies nests it deeper
                raise _too_deep(path, event.start_mark, kind)
        else:
            continue  # stream and document events hold no values
        if stack:
            stack[-1].values += values
            stack[-1].levels = max(stack[-1].levels, levels + 1)


def _too_deep(path: str, where: Any, kind: str) -> LimitExceeded:
    return _limit(path, where, f"nested too deep: a {kind} may nest lists and mappings "
                  f"at most {MAX_NESTING_DEPTH} levels")


class _Builder:
    def __init__(self, path: str, kind: str) -> None:
        self.path = path
        self.kind = kind
        # A throwaway SafeLoader gives us YAML 1.1 scalar resolution (ints, bools, null).
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node) -> YValue:
        mark = _mark(self.path, node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return YScalar(self._scalar(node), mark, quoted=node.style in ("'", '"'),
                           text=node.value)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            raise yaml.MarkedYAMLError(
                problem=f"tag {node.tag!r} is not allowed (a {self.kind} is plain YAML)",
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

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self._constructor.construct_object(node)
        except (ValueError, OverflowError) as exc:
            # What looks like a date or number but is not one (2026-13-01, !!int abc, an
            # integer of 5,000 digits): PyYAML raises plain ValueError for these.
            raise yaml.MarkedYAMLError(
                problem=f"cannot read {node.value[:40]!r}: {exc} (quote it if it is a text)",
                problem_mark=node.start_mark,
            ) from None


def _first_too_deep(text: str, path: str, kind: str,
                    libyaml_error: yaml.YAMLError) -> LimitExceeded:
    """Where a file libyaml found nested past its own limit (1,000) first goes past ours.

    libyaml's scanner reads a run of ``[`` to its end before the parser gives an event, so
    it fails at level 1,000, not 64; and the pure-Python scanner, reading the same run
    ahead, is quadratic in it (a second for 20,000 levels). Prefixes of growing length
    find our limit's position in the pure parser at the cost of the prefix alone: the
    events before a cut are those of the whole file."""
    size = 256
    while size < 2 * len(text):
        try:
            check_limits(text[:size], path, yaml.SafeLoader, kind)
        except LimitExceeded as exc:
            return exc
        except yaml.YAMLError:
            pass  # the cut ended mid-structure: look further
        size *= 4
    return _too_deep(path, getattr(libyaml_error, "problem_mark", None), kind)


def _compose(text: str, path: str, kind: str) -> yaml.Node | None:
    """libyaml's parser when present (about ten times faster); on any error parse again in
    pure Python, whose messages are the documented ones. Either way the limits are checked
    first with the same parser, so what is composed has passed them."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            check_limits(text, path, fast, kind)
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError as exc:
            if "maximum nesting depth" in str(exc):
                raise _first_too_deep(text, path, kind, exc) from None
    check_limits(text, path, yaml.SafeLoader, kind)
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


def load_yaml(text: str, path: str, *,
              kind: str = FLOWS_FILE) -> tuple[YValue | None, list[Diagnostic]]:
    """Parse ``text``; on a syntax error or a limit return ``None`` and one diagnostic."""
    too_big = size_problem(len(text.encode("utf-8", "surrogatepass")), path, kind)
    if too_big is not None:
        return None, [too_big]
    try:
        node = _compose(text, path, kind)
        if node is None:
            return None, [Diagnostic(Mark(path, 1, 1), Severity.ERROR, EMPTY_FILE)]
        return _Builder(path, kind).build(node), []
    except LimitExceeded as exc:
        return None, [exc.diagnostic]
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
