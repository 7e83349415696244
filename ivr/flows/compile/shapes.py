"""Which fields a variable has, so ``ivr validate`` catches ``balance.payed``.

A misspelt field is not an error at run time: the value is simply missing, so a branch
quietly goes the other way and a ``say`` is skipped (the caller hears "the amount due
is" and then nothing). Here every variable gets a *shape* from what the file stores into
it: the fields its lookup declares (``LookupSpec.returns``, read from the registry the
compiler is given), the built-in call variables, or another variable's shape
(``set: {account: caller.account}``). A variable with any source whose fields are not
known (an input, a literal, an unknown lookup, ``result``) is *open* and never checked, so
a correct file is never refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.config.diagnostics import did_you_mean
from ivr.lookups import Shape

#: Variables every call has (``language`` and ``result`` are open).
BUILTIN_SHAPES: Mapping[str, Shape] = {
    "caller": {"number": None},
    "hotline": {"number": None, "corporation": None, "prefix": None},
    "call": {"id": None, "flow": None},
}


@dataclass
class Shapes:
    """Sources per variable, collected in the compiler's pre-pass."""

    known: dict[str, list[Shape]] = field(
        default_factory=lambda: {k: [v] for k, v in BUILTIN_SHAPES.items()}
    )
    aliases: dict[str, list[str]] = field(default_factory=dict)
    open: set[str] = field(default_factory=lambda: {"language", "result"})

    def add_lookup(self, name: str, returns: Shape | None, not_found: Shape) -> None:
        """``name`` stores a lookup's result: found or not, it has these fields (None:
        not known, so open)."""
        if returns is None:
            self.open.add(name)
        else:
            self.known.setdefault(name, []).extend((returns, not_found))

    def add_alias(self, name: str, path: str) -> None:
        self.aliases.setdefault(name, []).append(path)

    def add_open(self, name: str) -> None:
        self.open.add(name)

    def problem(self, path: str) -> str | None:
        """Why ``path`` names no field (None when it may exist)."""
        parts = path.split(".")
        shape = self._shape(parts[0], frozenset())
        for depth, part in enumerate(parts[1:], start=1):
            if shape is None:
                return None
            if part not in shape:
                owner = ".".join(parts[:depth])
                hint = did_you_mean(part, shape)
                if hint:
                    return f"{owner!r} has no field {part!r}{hint}"
                fields = ", ".join(sorted(shape)) or "none"
                return f"{owner!r} has no field {part!r} (its fields: {fields})"
            shape = shape[part]
        return None

    def _shape(self, root: str, seen: frozenset[str]) -> Shape | None:
        if root in self.open or root in seen:
            return None
        sources = list(self.known.get(root, []))
        for alias in self.aliases.get(root, []):
            alias_root, *rest = alias.split(".")
            shape = self._shape(alias_root, seen | {root})
            for part in rest:
                shape = None if shape is None else shape.get(part)
            if shape is None:
                return None
            sources.append(shape)
        if not sources:
            return None
        merged: dict[str, list[Shape | None]] = {}
        for source in sources:
            for name, sub in source.items():
                merged.setdefault(name, []).append(sub)
        return {name: _merge(subs) for name, subs in merged.items()}


def _merge(shapes: list[Shape | None]) -> Shape | None:
    if any(s is None for s in shapes):
        return None
    out: dict[str, list[Shape | None]] = {}
    for shape in shapes:
        assert shape is not None
        for name, sub in shape.items():
            out.setdefault(name, []).append(sub)
    return {name: _merge(subs) for name, subs in out.items()}
