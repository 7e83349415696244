"""Which prompt ids the flows play, for ``ivr prompts check``.

The flow compiler asks the catalog ``has(id)`` for every prompt a flow names (that is
how it reports unknown prompts), so compiling the flows against a catalog that writes
those questions down yields exactly the ids the flows use, whether or not they exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ivr.prompts.catalog import PromptCatalog, PromptEntry


class _RecordingCatalog:
    """The compiler's view of a catalog (``PromptIds``) that remembers the ids it is asked
    about."""

    def __init__(self, catalog: PromptCatalog) -> None:
        self._catalog = catalog
        self.asked: set[str] = set()
        self.SAY_KINDS = catalog.SAY_KINDS

    @property
    def languages(self) -> tuple[str, ...]:
        return self._catalog.languages

    def has(self, prompt_id: str) -> bool:
        self.asked.add(prompt_id)
        return self._catalog.has(prompt_id)

    def ids(self) -> Iterator[str]:
        return self._catalog.ids()

    def entry(self, prompt_id: str) -> PromptEntry:
        return self._catalog.entry(prompt_id)


def referenced_prompts(
    flows_path: Path, catalog: PromptCatalog
) -> tuple[frozenset[str] | None, str]:
    """(prompt ids the flows file uses, note); (None, why) when they cannot be known, in
    which case the caller checks every catalog prompt instead."""
    from ivr.flows.compile.driver import compile_flows
    from ivr.store.lookups import known_lookups

    try:
        data = flows_path.read_bytes()
    except OSError as exc:
        return None, f"{flows_path}: cannot read ({exc.strerror}): checking every catalog prompt"
    recorder = _RecordingCatalog(catalog)
    # Unknown lookups or other flow errors do not matter here (ivr validate reports them):
    # the compiler still checks every prompt it reaches.
    flowset, _ = compile_flows(data, str(flows_path), catalog=recorder, lookups=known_lookups())
    if flowset is None and not recorder.asked:
        return None, f"{flows_path} does not compile (ivr validate): checking every catalog prompt"
    return frozenset(recorder.asked), ""
