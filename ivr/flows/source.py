"""Where the engine gets its flows: the current compiled FlowSet, with hot reload.

The flows file and the prompt catalog (``config/prompts.yaml``) are one unit when the
source is given a prompts file (``ivr serve`` always does): a reload reads both, compiles
the flows against the new catalog, and swaps both in together (:class:`Live`), so a flow
that plays a prompt added in the same edit goes live without a restart. The unit's
version is then a hash of both texts.

A reload that fails keeps the last good FlowSet (and logs why); a good one replaces the
reference for calls that start afterwards. Calls in progress hold the FlowSet object
they started with, so they finish on it.

In a server, reading and compiling run in a worker thread (:meth:`FlowSource.reload_async`):
a big file must not stall the calls the event loop is serving. Only the swap of the
reference happens on the loop, so a call never waits for a reload.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ivr.config.diagnostics import Diagnostic, FlowError, Mark, Severity, has_errors
from ivr.config.loader import read_flows_file, size_problem
from ivr.flows.compile.driver import LookupsLike, PromptIds, compile_flows
from ivr.flows.model import FlowSet
from ivr.metrics import NO_METRICS, MetricsHooks

log = logging.getLogger(__name__)

#: ``PATH:LINE:COL: message``, the shape of a prompt catalog's error lines.
_CATALOG_LINE = re.compile(r"^(?P<path>.*?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)\Z", re.S)


class CatalogLoader(Protocol):
    """Builds a prompt catalog from the prompts file's text (``ivr.prompts`` provides it:
    this package imports no prompts code). Raises ``ValueError`` whose ``errors`` are
    ``PATH:LINE:COL: message`` lines when the text is not a usable catalog."""

    def __call__(self, text: str, path: str) -> PromptIds: ...


@dataclass(frozen=True, slots=True)
class PromptsFile:
    """The prompt catalog file that is published with the flows, and how to read it."""

    path: Path
    load: CatalogLoader


@dataclass(frozen=True, slots=True)
class Live:
    """What new calls run: a compiled FlowSet, the catalog it was compiled against, and
    the two texts they came from (what a published version stores)."""

    flowset: FlowSet
    catalog: PromptIds
    flows_text: str
    prompts_text: str | None
    """None when the source has no prompts file (the catalog is fixed)."""

    @property
    def version(self) -> str:
        return self.flowset.version


def unit_version(flows_text: str, prompts_text: str | None) -> str:
    """The content hash of a published unit. Without a prompts file it is the flows
    file's own hash (what ``compile_flows`` gives), so versions stay comparable."""
    data = flows_text.encode("utf-8")
    if prompts_text is not None:
        data += b"\n\0prompts\0\n" + prompts_text.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:12]


def catalog_diagnostics(exc: ValueError, path: str) -> list[Diagnostic]:
    """A catalog loader's problems as diagnostics (position kept when it has one)."""
    found = getattr(exc, "diagnostics", None)
    if found:  # the prompts file is read by the flows' own reader: diagnostics already
        return list(found)
    lines = getattr(exc, "errors", None) or [str(exc)]
    out = []
    for line in lines:
        m = _CATALOG_LINE.match(str(line))
        if m:
            mark = Mark(m["path"], int(m["line"]), int(m["col"]))
            out.append(Diagnostic(mark, Severity.ERROR, m["message"]))
        else:
            message = str(line).removeprefix(f"{path}: ")
            out.append(Diagnostic(Mark(path, 1, 1), Severity.ERROR, message))
    return out


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a temporary file beside it, then a
    rename), so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class Compiled:
    """One read and compile of the file, done anywhere; applied on the loop."""

    flowset: FlowSet | None
    diagnostics: list[Diagnostic]
    mtime: float | None
    """The file's mtime before it was read; None when it could not be read."""
    live: Live | None = None
    """The flows with their catalog and texts (None when it did not compile)."""
    mtimes: tuple[float | None, float | None] | None = None
    """Both files' mtimes before they were read (flows, prompts)."""


#: Called on the loop after a new version went live: (new, origin) where origin is
#: ``file`` (an edit on disk, SIGHUP), or whatever a publisher passed to :meth:`apply`.
Listener = Callable[[Live, str], None]


class FlowSource:
    def __init__(self, path: Path, flowset: FlowSet, *, lookups: LookupsLike,
                 catalog: PromptIds, mtime: float = 0.0,
                 metrics: MetricsHooks = NO_METRICS, prompts: PromptsFile | None = None,
                 live: Live | None = None, prompts_mtime: float | None = None) -> None:
        self.path = path
        self.prompts = prompts
        self.live: Live = live or Live(flowset, catalog, "", None)
        self._metrics = metrics
        metrics.flows_version(flowset.version)
        self._lookups = lookups
        self._catalog = catalog
        self._mtime = mtime
        self._prompts_mtime = prompts_mtime
        self._reloading = asyncio.Lock()
        self.listeners: list[Listener] = []
        """Told of every new version that goes live (the service records it, builds its
        prompt audio, tells the other nodes)."""

    @property
    def current(self) -> FlowSet:
        """The FlowSet new calls start on."""
        return self.live.flowset

    @property
    def catalog(self) -> PromptIds:
        """The prompt catalog new calls play from (the one ``current`` was compiled
        against)."""
        return self.live.catalog

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a version is compiled and applied (a reload, a publish), so two
        never interleave and a file watcher never reads a half-published pair."""
        return self._reloading

    @classmethod
    def load(cls, path: Path, *, lookups: LookupsLike, catalog: PromptIds,
             metrics: MetricsHooks = NO_METRICS,
             prompts: PromptsFile | None = None) -> FlowSource:
        """Compile ``path``; raises :class:`FlowError` with every diagnostic if it fails
        (and FileNotFoundError if there is no file). With ``prompts``, that file is read
        too and ``catalog`` is only what the source was built with."""
        mtime = path.stat().st_mtime
        if prompts is None:
            data = read_flows_file(path)
            flowset, diags = compile_flows(data, str(path), catalog=catalog, lookups=lookups)
            if flowset is None:
                raise FlowError(diags)
            for d in diags:
                log.warning("%s", d)
            live = Live(flowset, catalog, data.decode("utf-8", "replace"), None)
            return cls(path, flowset, lookups=lookups, catalog=catalog, mtime=mtime,
                       metrics=metrics, live=live)
        prompts_mtime = prompts.path.stat().st_mtime
        try:
            flows_text = read_text(path)
        except UnicodeDecodeError as exc:  # the same one line as a reload gives
            raise FlowError([_unreadable(path, "flows", exc)]) from None
        try:
            prompts_text = prompts.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise FlowError([_unreadable(prompts.path, "prompts", exc)]) from None
        compiled = compile_unit(flows_text, prompts_text, str(path), str(prompts.path),
                                prompts.load, lookups)
        if compiled.live is None or has_errors(compiled.diagnostics):
            raise FlowError(compiled.diagnostics)
        for d in compiled.diagnostics:
            log.warning("%s", d)
        return cls(path, compiled.live.flowset, lookups=lookups, catalog=compiled.live.catalog,
                   mtime=mtime, metrics=metrics, prompts=prompts, live=compiled.live,
                   prompts_mtime=prompts_mtime)

    def compile_texts(self, flows_text: str, prompts_text: str | None) -> Compiled:
        """Compile a unit given as texts (the web editor, a version from the database),
        with the file names for positions. Changes nothing; any thread."""
        if self.prompts is None or prompts_text is None:
            data = flows_text.encode("utf-8")
            flowset, diags = compile_flows(data, str(self.path), catalog=self._catalog,
                                           lookups=self._lookups)
            live = None if flowset is None else Live(flowset, self._catalog, flows_text, None)
            return Compiled(flowset, diags, None, live)
        return compile_unit(flows_text, prompts_text, str(self.path), str(self.prompts.path),
                            self.prompts.load, self._lookups)

    def compile_file(self) -> Compiled:
        """Read and compile the file as it is now. Changes nothing here, so it may run in
        any thread; :meth:`apply` makes the result current."""
        try:
            mtime = self.path.stat().st_mtime
            if self.prompts is None:
                data = read_flows_file(self.path)
            else:
                flows_text = read_text(self.path)
        except (OSError, UnicodeDecodeError) as exc:
            return Compiled(None, [_unreadable(self.path, "flows", exc)], None)
        prompts_mtime: float | None = None
        if self.prompts is not None:
            try:
                prompts_mtime = self.prompts.path.stat().st_mtime
                prompts_text = self.prompts.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return Compiled(None, [_unreadable(self.prompts.path, "prompts", exc)], None)
        if self.prompts is not None:
            unit = compile_unit(flows_text, prompts_text, str(self.path),
                                str(self.prompts.path), self.prompts.load, self._lookups)
            return dataclasses.replace(unit, mtime=mtime, mtimes=(mtime, prompts_mtime))
        flowset, diags = compile_flows(data, str(self.path), catalog=self._catalog,
                                       lookups=self._lookups)
        live = None if flowset is None else Live(
            flowset, self._catalog, data.decode("utf-8", "replace"), None)
        return Compiled(flowset, diags, mtime, live)

    def apply(self, compiled: Compiled, origin: str = "file") -> list[Diagnostic]:
        """Swap in a compiled file if it has no error (else keep the current one and log
        why). Returns its diagnostics. ``origin`` is told to the listeners: ``file`` for
        the files on disk, else who published it."""
        diags = compiled.diagnostics
        if compiled.mtime is not None:
            self._mtime = compiled.mtime
        if compiled.mtimes is not None:
            self._prompts_mtime = compiled.mtimes[1]
        if compiled.flowset is None or has_errors(diags):
            for d in diags:  # a warning stays a warning, so errors stand out in the log
                (log.error if d.is_error else log.warning)("%s", d)
            log.error("flows not reloaded: keeping version %s", self.current.version)
            self._metrics.flows_reloaded("failed")
            return diags
        for d in diags:
            log.warning("%s", d)
        changed = compiled.flowset.version != self.current.version
        if changed:
            old = self.live
            new = compiled.live or Live(compiled.flowset, self._catalog, "", None)
            self.live = new
            self._metrics.flows_version(compiled.flowset.version)
            added = _added_prompts(old.catalog, new.catalog)
            by = "" if origin == "file" else f" ({origin})"
            log.info("flows reloaded: version %s -> %s%s%s", old.version, new.version, by,
                     f"; new prompts: {', '.join(added)}" if added else "")
            for listener in self.listeners:
                try:
                    listener(new, origin)
                except Exception:  # one listener's bug must not undo the swap
                    log.exception("flows listener failed for version %s", new.version)
        else:
            log.info("flows unchanged: version %s", self.current.version)
        self._metrics.flows_reloaded("changed" if changed else "unchanged")
        return diags

    def reload(self) -> list[Diagnostic]:
        """Compile the file again in this thread; swap it in only if it has no error.
        Returns diagnostics. A server uses :meth:`reload_async`."""
        return self.apply(self.compile_file())

    async def reload_async(self) -> list[Diagnostic]:
        """:meth:`reload` with the reading and compiling in a worker thread, so the event
        loop (and every call on it) keeps running while a big file compiles. Reloads
        asked for at once (a SIGHUP while the watcher reloads) run one after the other."""
        async with self._reloading:
            return self.apply(await asyncio.to_thread(self.compile_file))

    async def apply_texts(self, flows_text: str, prompts_text: str | None,
                          origin: str) -> list[Diagnostic]:
        """Compile a unit given as texts off the loop and make it live if it is clean
        (a version another node published, a rollback)."""
        async with self._reloading:
            compiled = await asyncio.to_thread(self.compile_texts, flows_text, prompts_text)
            return self.apply(compiled, origin)

    def _mtime_now(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def _prompts_mtime_now(self) -> float | None:
        if self.prompts is None:
            return None
        try:
            return self.prompts.path.stat().st_mtime
        except OSError:
            return None

    def changed(self) -> bool:
        mtime = self._mtime_now()
        if mtime is not None and mtime != self._mtime:
            return True
        prompts = self._prompts_mtime_now()
        return prompts is not None and prompts != self._prompts_mtime

    def note_files(self) -> None:
        """Take the files' mtimes as seen (after this node wrote them itself)."""
        self._mtime = self._mtime_now() or self._mtime
        self._prompts_mtime = self._prompts_mtime_now()

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the file's mtime and reload when it changes; runs until cancelled.

        Supervised: whatever a reload raises is logged and the watching goes on, so one
        bad edit (or a bug) never stops later good edits from going live. The new mtime
        is noted before the reload, so a file that makes it fail is not retried until
        it changes again."""
        while True:
            await asyncio.sleep(interval)
            if not self.changed():
                continue
            self._mtime = self._mtime_now() or self._mtime
            self._prompts_mtime = self._prompts_mtime_now()
            try:
                await self.reload_async()
            except Exception:  # CancelledError is not an Exception: stopping still works
                log.exception("flows reload of %s failed; still watching it", self.path)


def _unreadable(path: Path, what: str, exc: OSError | UnicodeDecodeError) -> Diagnostic:
    why = (f"not UTF-8 text: {exc.reason}" if isinstance(exc, UnicodeDecodeError)
           else exc.strerror or str(exc))
    return Diagnostic(Mark(str(path), 1, 1), Severity.ERROR, f"cannot read the {what} file: {why}")


def read_text(path: Path) -> str:
    """The flows file as text, bounded like :func:`read_flows_file` (``FlowError`` for a
    file too big to read)."""
    data = read_flows_file(path)
    return data.decode("utf-8")


def _added_prompts(old: PromptIds, new: PromptIds) -> list[str]:
    before = getattr(old, "flow_prompt_ids", None)
    after = getattr(new, "flow_prompt_ids", None)
    if not callable(before) or not callable(after):
        return []
    return sorted(set(after()) - set(before()))


def compile_unit(flows_text: str, prompts_text: str, flows_path: str, prompts_path: str,
                 load: CatalogLoader, lookups: LookupsLike) -> Compiled:
    """Compile the flows against the catalog read from ``prompts_text``; the version is
    the hash of both texts. Prompt errors come first (the flows cannot be checked
    against a catalog that does not load)."""
    too_big = size_problem(len(prompts_text.encode("utf-8")), prompts_path)
    if too_big is not None:
        return Compiled(None, [too_big], None)
    try:
        catalog = load(prompts_text, prompts_path)
    except ValueError as exc:
        return Compiled(None, catalog_diagnostics(exc, prompts_path), None)
    flowset, diags = compile_flows(flows_text.encode("utf-8"), flows_path, catalog=catalog,
                                   lookups=lookups)
    if flowset is None:
        return Compiled(None, diags, None)
    flowset = dataclasses.replace(flowset, version=unit_version(flows_text, prompts_text))
    return Compiled(flowset, diags, None, Live(flowset, catalog, flows_text, prompts_text))
