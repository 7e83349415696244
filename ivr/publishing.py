"""Publishing versions of the flows and prompts, and keeping every node on the live one.

A *version* is the flows file and the prompt catalog together (``FlowSource``'s unit),
named by the hash of both texts. Every version that goes live is a row in
``flow_versions`` (who, when, a note; ``file`` for an edit on disk); the newest row is
the live version. The rules:

- **Publish** (the web, the API): compile off the loop, refuse errors, run the golden
  scenarios (``config/scenarios.yaml``) off the loop and refuse a version that breaks
  one; then record it, write both files atomically (so disk and database agree), swap it
  in and tell the other nodes.
- **An edit on disk** (the file watcher, SIGHUP) that goes live is recorded as
  ``file``, and told to the other nodes the same way.
- **Rollback** publishes an earlier version's texts again: a new row that names it. It
  is the way out of a bad publish, so only compile errors stop it, not the scenarios
  (they may have been written for the version being rolled back).
- **Other nodes**: the version id goes out on PostgreSQL ``NOTIFY ivr_flows``; each
  node loads that version's texts from the database, compiles them off the loop, swaps
  them in and writes its own files. SQLite has one node, so no bus.
- **At start** a node runs its files. If the database's live version differs, the newer
  wins: files modified after that version was published are an edit made while the node
  was down (recorded as ``file``); otherwise the node adopts the database's version.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ivr.config.diagnostics import Diagnostic, has_errors
from ivr.failures import describe
from ivr.flows.source import Compiled, FlowSource, Live, write_atomically

log = logging.getLogger(__name__)

#: The PostgreSQL NOTIFY channel every node listens on for new versions.
FLOWS_CHANNEL = "ivr_flows"
#: Seconds between attempts to record the running version after a degraded start.
RECONCILE_RETRY = 5.0
#: A note is a line or two for the history, not a document.
MAX_NOTE = 500


class VersionStore(Protocol):
    """What publishing needs from :class:`ivr.store.Store`."""

    async def add_flow_version(self, *, version: str, flows: str, prompts: str | None,
                               by: str, note: str = "",
                               rollback_of: str | None = None) -> dict[str, Any]: ...

    async def flow_versions(self, *, limit: int = ...) -> list[dict[str, Any]]: ...

    async def flow_version(self, version: str) -> dict[str, Any] | None: ...

    async def live_flow_version(self) -> dict[str, Any] | None: ...


class Bus(Protocol):
    async def start(self, on_message: Callable[[str], None]) -> None: ...

    async def publish(self, payload: str) -> None: ...

    async def close(self) -> None: ...


#: Runs the golden scenarios against a compiled candidate; returns each failure as text
#: (``PATH:LINE: FAIL name`` and the differences), empty when all pass.
ScenarioCheck = Callable[[Compiled], list[str]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a publish or rollback did: the version live now, or why it was refused."""

    version: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Scenarios the candidate broke (their printed failures)."""
    changed: bool = True
    """False when the version was live already (nothing recorded)."""
    error: str = ""
    """Why it could not be published for another reason (the database is down...)."""

    @property
    def ok(self) -> bool:
        return self.version is not None


class Publisher:
    def __init__(self, source: FlowSource, store: VersionStore, *,
                 scenarios: ScenarioCheck | None = None, bus: Bus | None = None) -> None:
        self.source = source
        self.store = store
        self.scenarios = scenarios
        self.bus = bus
        self._tasks: set[asyncio.Task[None]] = set()
        self.adopted = asyncio.Event()
        """Set each time this node takes in a version another node published (tests)."""

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile the files with the database's live version, then listen."""
        self.source.listeners.append(self._went_live)
        try:
            await self._reconcile()
        except Exception as exc:  # a degraded start: serve the files, record later
            log.warning("flows: cannot read the published versions (%s); serving the files "
                        "(version %s) and recording them once the database answers",
                        describe(exc), self.source.current.version)
            self._spawn(self._reconcile_later())
        if self.bus is not None:
            await self.bus.start(self._heard)

    async def close(self) -> None:
        if self._went_live in self.source.listeners:
            self.source.listeners.remove(self._went_live)
        for task in [*self._tasks]:
            task.cancel()
        for task in [*self._tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.bus is not None:
            await self.bus.close()

    async def _reconcile_later(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_RETRY)
            try:
                await self._reconcile()
            except Exception as exc:
                log.debug("flows: published versions still unreadable (%s)", describe(exc))
                continue
            log.info("flows: the database answers again; version %s is recorded",
                     self.source.current.version)
            return

    async def _reconcile(self) -> None:
        live = self.source.live
        published = await self.store.live_flow_version()
        if published is not None and published["version"] == live.version:
            return
        if published is not None and not self._files_newer(published["published_at"]):
            log.info("flows: the files differ from the published version %s; adopting it",
                     published["version"])
            await self._adopt_entry(published)
            return
        entry = await self.store.add_flow_version(
            version=live.version, flows=live.flows_text, prompts=live.prompts_text, by="file",
            note="the files on disk at start")
        log.info("flows: version %s recorded as published from the files", entry["version"])

    def _files_newer(self, published_at: str) -> bool:
        stamps = [self.source.path.stat().st_mtime]
        if self.source.prompts is not None:
            stamps.append(self.source.prompts.path.stat().st_mtime)
        return max(stamps) > datetime.fromisoformat(published_at).timestamp()

    # -- reading --------------------------------------------------------------------

    async def live(self) -> dict[str, Any]:
        """The live version of this node, as the history names it."""
        version = self.source.current.version
        entry = await self.store.flow_version(version)
        if entry is None:  # not recorded yet (a degraded start)
            return {"version": version, "published_at": None, "published_by": None,
                    "note": "", "rollback_of": None}
        return {k: v for k, v in entry.items() if k not in ("flows", "prompts")}

    async def history(self) -> list[dict[str, Any]]:
        return await self.store.flow_versions()

    async def version(self, version: str) -> dict[str, Any] | None:
        return await self.store.flow_version(version)

    async def diff(self, older: str, newer: str) -> str | None:
        """A unified diff of both files between two versions; None if one is unknown."""
        a, b = await self.store.flow_version(older), await self.store.flow_version(newer)
        if a is None or b is None:
            return None
        flows_name = self.source.path.name
        prompts_name = self.source.prompts.path.name if self.source.prompts else "prompts"
        parts = [
            *difflib.unified_diff(str(a["flows"]).splitlines(keepends=True),
                                  str(b["flows"]).splitlines(keepends=True),
                                  f"{older}/{flows_name}", f"{newer}/{flows_name}"),
            *difflib.unified_diff(str(a["prompts"] or "").splitlines(keepends=True),
                                  str(b["prompts"] or "").splitlines(keepends=True),
                                  f"{older}/{prompts_name}", f"{newer}/{prompts_name}"),
        ]
        return "".join(p if p.endswith("\n") else p + "\n" for p in parts)

    # -- checking and publishing ----------------------------------------------------

    def _texts(self, flows: str, prompts: str | None) -> tuple[str, str | None]:
        """``prompts`` left out means the live catalog's text."""
        if prompts is None and self.source.prompts is not None:
            prompts = self.source.live.prompts_text
        return flows, prompts

    async def validate(self, flows: str, prompts: str | None = None) -> Compiled:
        flows, prompts = self._texts(flows, prompts)
        return await asyncio.to_thread(self.source.compile_texts, flows, prompts)

    async def publish(self, flows: str, prompts: str | None = None, *, by: str,
                      note: str = "", rollback_of: str | None = None,
                      check_scenarios: bool = True) -> Outcome:
        flows, prompts = self._texts(flows, prompts)
        note = " ".join(note.split())[:MAX_NOTE]
        async with self.source.lock:
            compiled = await asyncio.to_thread(self.source.compile_texts, flows, prompts)
            if compiled.live is None or has_errors(compiled.diagnostics):
                return Outcome(diagnostics=compiled.diagnostics)
            if self.scenarios is not None and check_scenarios:
                failures = await asyncio.to_thread(self.scenarios, compiled)
                if failures:
                    return Outcome(diagnostics=compiled.diagnostics, failures=failures)
            live = compiled.live
            if live.version == self.source.current.version and rollback_of is None:
                return Outcome(live.version, compiled.diagnostics, changed=False)
            # Files first, so a node that cannot write them refuses before anything is
            # recorded; a failed record puts the old files back. Either way the files,
            # the database and what runs agree.
            before = self.source.live
            try:
                await asyncio.to_thread(self._write_files, live)
            except OSError as exc:
                await asyncio.to_thread(self._restore_files, before)
                why = f"cannot write {exc.filename or 'the files'}: {exc.strerror or exc}"
                log.error("flows: version %s not published: %s", live.version, why)
                return Outcome(error=f"{why} (ivr needs write access to the flows and "
                                     "prompts files and their directory to publish)")
            try:
                await self.store.add_flow_version(
                    version=live.version, flows=live.flows_text, prompts=live.prompts_text,
                    by=by, note=note, rollback_of=rollback_of)
            except Exception as exc:  # never live without its history entry
                await asyncio.to_thread(self._restore_files, before)
                self.source.note_files()
                log.error("flows: version %s not published: cannot record it (%s)",
                          live.version, describe(exc))
                return Outcome(error=f"cannot record the version: {describe(exc)}")
            self.source.note_files()
            self.source.apply(compiled, f"published by {by}")
        log.info("flows: version %s published by %s%s", live.version, by,
                 f" (rollback to {rollback_of})" if rollback_of else "")
        await self._tell_others(live.version)
        return Outcome(live.version, compiled.diagnostics)

    async def rollback(self, version: str, *, by: str, note: str = "") -> Outcome:
        entry = await self.store.flow_version(version)
        if entry is None:
            return Outcome(error=f"no such version: {version}")
        return await self.publish(str(entry["flows"]), entry["prompts"], by=by,
                                  note=note or f"rollback to {version}", rollback_of=version,
                                  check_scenarios=False)

    def _write_files(self, live: Live) -> None:
        """Both files as the version has them; each replaced in one step. The prompts
        first: a watcher that looks between the two sees new prompts under old flows,
        which still compiles (a prompt nobody plays is harmless)."""
        if self.source.prompts is not None and live.prompts_text is not None:
            _write_if_different(self.source.prompts.path, live.prompts_text)
        _write_if_different(self.source.path, live.flows_text)

    def _restore_files(self, before: Live) -> None:
        """Put back the files of the version that is still live (best effort: the log
        says if even that fails)."""
        if not before.flows_text:
            return  # a source built without its texts (tests, tools): nothing to restore
        try:
            self._write_files(before)
        except OSError as exc:
            log.error("flows: cannot put back the files of version %s (%s): the files on "
                      "disk differ from what runs", before.version, exc.strerror or exc)

    # -- between nodes ----------------------------------------------------------------

    def _went_live(self, live: Live, origin: str) -> None:
        if origin != "file":
            return  # published here (recorded already) or adopted from another node
        self._spawn(self._record_file_edit(live))

    async def _record_file_edit(self, live: Live) -> None:
        try:
            published = await self.store.live_flow_version()
            if published is None or published["version"] != live.version:
                await self.store.add_flow_version(
                    version=live.version, flows=live.flows_text, prompts=live.prompts_text,
                    by="file", note="edited on disk")
        except Exception as exc:
            log.error("flows: version %s is live from the files but not recorded (%s)",
                      live.version, describe(exc))
            return
        await self._tell_others(live.version)

    async def _tell_others(self, version: str) -> None:
        if self.bus is None:
            return
        try:
            await self.bus.publish(version)
        except Exception as exc:
            log.error("flows: cannot tell the other nodes about version %s (%s)", version,
                      describe(exc))

    def _heard(self, payload: str) -> None:
        self._spawn(self._adopt(payload.strip()))

    async def _adopt(self, version: str) -> None:
        if version == self.source.current.version:
            return
        try:
            entry = await self.store.flow_version(version)
        except Exception as exc:
            log.error("flows: cannot load version %s another node published (%s)", version,
                      describe(exc))
            return
        if entry is None:
            log.error("flows: another node published version %s, which is not in the "
                      "database", version)
            return
        await self._adopt_entry(entry)

    async def _adopt_entry(self, entry: dict[str, Any]) -> None:
        async with self.source.lock:
            compiled = await asyncio.to_thread(self.source.compile_texts, str(entry["flows"]),
                                               entry["prompts"])
            if compiled.live is None or has_errors(compiled.diagnostics):
                # Another ivr release with other lookups or node kinds, most likely.
                for d in compiled.diagnostics:
                    log.error("%s", d)
                log.error("flows: version %s does not compile here; keeping %s",
                          entry["version"], self.source.current.version)
                return
            try:
                await asyncio.to_thread(self._write_files, compiled.live)
            except OSError as exc:
                # What the other nodes run wins; the log says this node's disk differs.
                log.error("flows: running version %s, but cannot write it to the files "
                          "(%s: %s)", entry["version"], exc.filename, exc.strerror or exc)
            self.source.note_files()
            self.source.apply(compiled, f"published by {entry['published_by']} elsewhere")
        self.adopted.set()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _write_if_different(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return  # another node on this host wrote it, or nothing changed
    except (OSError, UnicodeDecodeError):
        pass
    write_atomically(path, text)


def try_call(compiled: Compiled, *, keys: str, caller: str, dialled: str,
             language: str | None, at: datetime, flow: str | None = None) -> dict[str, Any]:
    """One call through the simulator on the candidate version, against the demo data
    on a throwaway SQLite file (nothing reaches the live database): what the caller
    heard (prompt ids and texts), the nodes passed, lookups, transfers and the outcome.
    Runs in a worker thread, with its own event loop."""
    from ivr.calls import Outcome as CallOutcome
    from ivr.config.diagnostics import Mark
    from ivr.flows.scenarios import Expect, Scenario, ScenarioFile
    from ivr.scenario_runner import run_scenarios

    live = compiled.live
    assert live is not None
    catalog: Any = live.catalog
    flowset = live.flowset
    scenario = Scenario(name="try it", mark=Mark("<try>", 1, 1),
                        flow=flow or flowset.default_flow, caller=caller,
                        dialled=dialled or next(iter(flowset.hotlines), ""),
                        at=at, expect=Expect(CallOutcome.SELF_SERVED), language=language,
                        keys=keys)
    report = asyncio.run(run_scenarios(flowset, ScenarioFile("<try>", (scenario,)),
                                       catalog=catalog))
    heard = report.results[0].heard
    speak = language or flowset.defaults.language

    def text(prompt_id: str) -> str:
        texts = catalog.entry(prompt_id).texts if catalog.has(prompt_id) else {}
        return str(texts.get(speak) or next(iter(texts.values()), ""))

    return {
        "version": live.version,
        "outcome": heard.outcome.value,
        "prompts": [{"id": p, "text": text(p)} for p in heard.prompts],
        "path": list(heard.path),
        "answers": [{"node": n, "keys": k} for n, k in heard.answers],
        "lookups": [{"node": n, "lookup": a, "status": st.value} for n, a, st in heard.lookups],
        "transfers": [{"node": t.node, "queue": t.queue, "intent": t.intent,
                       "status": t.status} for t in heard.transfers],
        "error": heard.error,
    }


def scenario_check(path: Path, lookup_names: list[str]) -> ScenarioCheck:
    """The golden scenarios in ``path`` as a :data:`ScenarioCheck`; runs in a worker
    thread (its own event loop: the calls are simulated on throwaway SQLite files)."""

    def check(compiled: Compiled) -> list[str]:
        from ivr.flows.scenarios import load_scenarios
        from ivr.scenario_runner import run_scenarios

        live = compiled.live
        if live is None:
            return []
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []  # no scenarios file: nothing to hold the version to
        catalog: Any = live.catalog  # a PromptCatalog: the service's loader makes them
        scenarios, problems = load_scenarios(text, str(path), flowset=live.flowset,
                                             catalog=catalog, lookups=lookup_names)
        if scenarios is None:
            # The candidate removed a node or prompt a scenario names: that breaks it.
            return [str(d) for d in problems if d.is_error]
        report = asyncio.run(run_scenarios(live.flowset, scenarios, catalog=catalog))
        return [str(r) for r in report.failures()]

    return check
