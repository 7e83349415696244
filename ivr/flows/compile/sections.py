"""The file-wide sections of a flows file: ``defaults``, ``queues`` and ``hotlines``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ivr.channels.channel import ALL_KEYS
from ivr.config.diagnostics import did_you_mean
from ivr.config.loader import YValue
from ivr.flows.model import Defaults, Hotline, Queue

if TYPE_CHECKING:
    from ivr.flows.compile.driver import Compiler

#: Prompts the engine plays itself when a queue offers a callback.
CALLBACK_PROMPTS = ("offer_callback", "callback_confirmed", "goodbye")
#: Prompts every flows file needs: the apology before an unplanned hand-over.
ENGINE_PROMPTS = ("sorry_transfer",)
DEFAULT_KEYS = (
    "language", "timeout", "inter_digit_timeout", "retries", "when_retries_run_out",
    "keys_everywhere", "no_input", "no_match", "agent_queue", "flow",
)


def read_queues(self: Compiler, node: YValue | None) -> None:
    m = self.read.mapping(node, "queues", dup_word="queue")
    for key, body in m.items if m else ():
        name = str(key.value)
        q = self.read.mapping(body, f"queue {name!r}")
        if q is None:
            continue
        what = f"queue {name!r}"
        self.read.keys(q, ("name", "priority", "max_wait", "when_full"), what)
        when_full = self.read.word(q.get("when_full"), f"{what}: when_full") or "hangup"
        if when_full not in ("offer_callback", "hangup", "agent_fallback"):
            self.diags.error(q.key_mark("when_full"), f"{what}: when_full must be "
                             f"offer_callback or hangup, not {when_full!r}")
        if when_full == "offer_callback":
            self.engine_prompts.update(CALLBACK_PROMPTS)
        self.queues[name] = Queue(
            key=name,
            name=self.read.word(q.get("name"), f"{what}: name") or name,
            priority=self.read.integer(q.get("priority"), f"{what}: priority") or 0,
            max_wait=self.read.duration(q.get("max_wait"), f"{what}: max_wait"),
            when_full=when_full,
        )

def read_defaults(self: Compiler, node: YValue | None) -> tuple[Defaults, str | None]:
    m = self.read.mapping(node, "defaults")
    self.engine_prompts.update(ENGINE_PROMPTS)
    if m is None:
        self.default_keys = {}
        return self.defaults, None
    self.read.keys(m, DEFAULT_KEYS, "defaults")
    language = self.read.word(m.get("language"), "defaults: language") or "vi"
    if m.get("language") is not None:
        self.check_language(m.get("language") or m, language)
    agent_queue = self.read.word(m.get("agent_queue"), "defaults: agent_queue") or "agents"
    if self.queues and agent_queue not in self.queues:
        self.diags.error(m.key_mark("agent_queue") if m.get("agent_queue") else m.mark,
                         f"defaults: agent queue {agent_queue!r} is not under 'queues:'")
    flow = self.read.word(m.get("flow"), "defaults: flow")
    if flow is not None and flow not in self.flow_names:
        self.diags.error(m.key_mark("flow"), f"defaults: unknown flow {flow!r}"
                         f"{did_you_mean(flow, self.flow_names)}")
    self.defaults = Defaults(
        language=language,
        timeout=self.read.duration(m.get("timeout"), "defaults: timeout") or 5.0,
        inter_digit_timeout=self.read.duration(
            m.get("inter_digit_timeout"), "defaults: inter_digit_timeout") or 3.0,
        retries=self.read.integer(m.get("retries"), "defaults: retries", low=1, high=10) or 3,
        agent_queue=agent_queue,
        no_input=self.escalation(m.get("no_input"), "defaults: no_input"),
        no_match=self.escalation(m.get("no_match"), "defaults: no_match"),
    )
    exhausted = self.exit(m.get("when_retries_run_out"), None,
                          "defaults: when_retries_run_out", "defaults: when_retries_run_out")
    if exhausted is not None:
        self.default_exhausted = exhausted
    keys = self.read.mapping(m.get("keys_everywhere"), "defaults: keys_everywhere")
    for key, target in keys.items if keys else ():
        digit = str(key.value)
        if len(digit) != 1 or digit not in ALL_KEYS:
            self.diags.error(key.mark, f"keys_everywhere: {digit!r} is not a single key "
                             "(0-9, * or #)")
            continue
        what = f"keys_everywhere {digit!r}"
        out = self.exit(target, None, what, what, allow_repeat=True)
        if out is not None:
            self.default_keys[digit] = out
    return self.defaults, flow

def read_hotlines(self: Compiler, node: YValue | None) -> dict[str, Hotline]:
    m = self.read.mapping(node, "hotlines", dup_word="hotline number")
    out: dict[str, Hotline] = {}
    for key, body in m.items if m else ():
        number = str(key.value)
        what = f"hotline {number!r}"
        if not number.isdigit():
            self.diags.error(key.mark, f"{what}: a hotline number is digits only "
                             "(quote it: \"19001288\")")
        h = self.read.mapping(body, what)
        if h is None:
            continue
        self.read.keys(h, ("corporation", "prefix"), what)
        prefix = self.read.word(h.get("prefix"), f"{what}: prefix") or ""
        if not re.fullmatch(r"[A-Z]{2}", prefix):
            self.diags.error(h.key_mark("prefix"), f"{what}: prefix must be two capital "
                             f"letters like PE, not {prefix!r}")
        corp = self.read.word(h.get("corporation"), f"{what}: corporation") or ""
        out[number] = Hotline(number, corp, prefix)
    return out
