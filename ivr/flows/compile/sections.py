"""The file-wide sections of a flows file: ``defaults``, ``queues`` and ``hotlines``."""

from __future__ import annotations

import re

from ivr.config.diagnostics import did_you_mean
from ivr.config.loader import YValue
from ivr.flows.compile.context import Compiler
from ivr.flows.model import Defaults, Hotline, Queue
from ivr.phone import ALL_KEYS

#: Prompts the engine plays itself when a queue offers a callback.
CALLBACK_PROMPTS = ("offer_callback", "callback_confirmed", "goodbye")
#: Prompts every flows file needs: the apology before an unplanned hand-over.
ENGINE_PROMPTS = ("sorry_transfer",)
DEFAULT_KEYS = (
    "language", "timeout", "inter_digit_timeout", "retries", "when_retries_run_out",
    "keys_everywhere", "no_input", "no_match", "agent_queue", "flow",
)


def read_queues(c: Compiler, node: YValue | None) -> None:
    m = c.read.mapping(node, "queues", dup_word="queue")
    for key, body in m.items if m else ():
        name = str(key.value)
        q = c.read.mapping(body, f"queue {name!r}")
        if q is None:
            continue
        what = f"queue {name!r}"
        c.read.keys(q, ("name", "priority", "max_wait", "when_full"), what)
        when_full = c.read.word(q.get("when_full"), f"{what}: when_full") or "hangup"
        if when_full not in ("offer_callback", "hangup", "agent_fallback"):
            c.diags.error(q.key_mark("when_full"), f"{what}: when_full must be "
                          f"offer_callback or hangup, not {when_full!r}")
        if when_full == "offer_callback":
            c.engine_prompts.update(CALLBACK_PROMPTS)
        c.queues[name] = Queue(
            key=name,
            name=c.read.word(q.get("name"), f"{what}: name") or name,
            priority=c.read.integer(q.get("priority"), f"{what}: priority") or 0,
            max_wait=c.read.duration(q.get("max_wait"), f"{what}: max_wait"),
            when_full=when_full,
        )


def read_defaults(c: Compiler, node: YValue | None) -> tuple[Defaults, str | None]:
    m = c.read.mapping(node, "defaults")
    c.engine_prompts.update(ENGINE_PROMPTS)
    if m is None:
        c.default_keys = {}
        return c.defaults, None
    c.read.keys(m, DEFAULT_KEYS, "defaults")
    language = c.read.word(m.get("language"), "defaults: language") or "vi"
    if m.get("language") is not None:
        c.check_language(m.get("language") or m, language)
    agent_queue = c.read.word(m.get("agent_queue"), "defaults: agent_queue") or "agents"
    if c.queues and agent_queue not in c.queues:
        c.diags.error(m.key_mark("agent_queue") if m.get("agent_queue") else m.mark,
                      f"defaults: agent queue {agent_queue!r} is not under 'queues:'")
    flow = c.read.word(m.get("flow"), "defaults: flow")
    if flow is not None and flow not in c.flow_names:
        c.diags.error(m.key_mark("flow"), f"defaults: unknown flow {flow!r}"
                      f"{did_you_mean(flow, c.flow_names)}")
    c.defaults = Defaults(
        language=language,
        timeout=c.read.duration(m.get("timeout"), "defaults: timeout") or 5.0,
        inter_digit_timeout=c.read.duration(
            m.get("inter_digit_timeout"), "defaults: inter_digit_timeout") or 3.0,
        retries=c.read.integer(m.get("retries"), "defaults: retries", low=1, high=10) or 3,
        agent_queue=agent_queue,
        no_input=c.escalation(m.get("no_input"), "defaults: no_input"),
        no_match=c.escalation(m.get("no_match"), "defaults: no_match"),
    )
    exhausted = c.exit(m.get("when_retries_run_out"), None,
                          "defaults: when_retries_run_out", "defaults: when_retries_run_out")
    if exhausted is not None:
        c.default_exhausted = exhausted
    keys = c.read.mapping(m.get("keys_everywhere"), "defaults: keys_everywhere")
    for key, target in keys.items if keys else ():
        digit = str(key.value)
        if len(digit) != 1 or digit not in ALL_KEYS:
            c.diags.error(key.mark, f"keys_everywhere: {digit!r} is not a single key "
                          "(0-9, * or #)")
            continue
        what = f"keys_everywhere {digit!r}"
        out = c.exit(target, None, what, what, allow_repeat=True)
        if out is not None:
            c.default_keys[digit] = out
    return c.defaults, flow


def read_hotlines(c: Compiler, node: YValue | None) -> dict[str, Hotline]:
    m = c.read.mapping(node, "hotlines", dup_word="hotline number")
    out: dict[str, Hotline] = {}
    for key, body in m.items if m else ():
        number = str(key.value)
        what = f"hotline {number!r}"
        if not number.isdigit():
            c.diags.error(key.mark, f"{what}: a hotline number is digits only "
                          "(quote it: \"19001288\")")
        h = c.read.mapping(body, what)
        if h is None:
            continue
        c.read.keys(h, ("corporation", "prefix"), what)
        prefix = c.read.word(h.get("prefix"), f"{what}: prefix") or ""
        if not re.fullmatch(r"[A-Z]{2}", prefix):
            c.diags.error(h.key_mark("prefix"), f"{what}: prefix must be two capital "
                          f"letters like PE, not {prefix!r}")
        corp = c.read.word(h.get("corporation"), f"{what}: corporation") or ""
        out[number] = Hotline(number, corp, prefix)
    return out
