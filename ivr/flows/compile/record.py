"""Compiling the ``record`` node: the caller's own words where keys are not enough."""

from __future__ import annotations

from ivr.config.loader import YScalar, YValue
from ivr.flows.compile.context import NodeContext
from ivr.flows.model import AnyNode, RecordNode
from ivr.phone import ALL_KEYS

RECORD_KEYS = ("prompt", "max_seconds", "silence", "finish_on", "beep", "retries", "no_input")
#: Longest recording a flow may ask for: a message, not a conversation.
MAX_RECORD_SECONDS = 600.0
DEFAULT_RECORD_SECONDS = 60.0
#: Asterisk's silence detection counts whole seconds (``s=<secs>``).
MAX_SILENCE_SECONDS = 30
DEFAULT_SILENCE_SECONDS = 3


def compile_record(ctx: NodeContext, v: YValue) -> AnyNode | None:
    c, what = ctx.c, ctx.what
    r = c.read.mapping(v, f"{what}: record")
    if r is None:
        return None
    c.read.keys(r, RECORD_KEYS, f"record {ctx.id!r}")
    prompt = c.play_items(r.get("prompt"), what)
    ok = True
    if r.get("prompt") is None:
        c.diags.error(r.mark, f"{what} needs a 'prompt': what the caller should say "
                      "after the beep")
        ok = False
    max_seconds = c.read.duration(r.get("max_seconds"), f"{what}: max_seconds")
    if max_seconds is not None and not 1.0 <= max_seconds <= MAX_RECORD_SECONDS:
        c.diags.error(r.key_mark("max_seconds"), f"{what}: max_seconds must be from 1s to "
                      f"{MAX_RECORD_SECONDS / 60:g}m, not {max_seconds:g}s")
        ok = False
    silence = _silence(ctx, r.get("silence"))
    finish = c.read.text(r.get("finish_on"), f"{what}: finish_on")
    if finish is None:
        finish = "#"
    elif not finish or any(k not in ALL_KEYS for k in finish):
        c.diags.error(r.key_mark("finish_on"), f"{what}: finish_on must be keys from 0-9, "
                      f"* and #, not {finish!r}")
        ok = False
    beep = c.read.boolean(r.get("beep"), f"{what}: beep") is not False
    retries = c.read.integer(r.get("retries"), f"{what}: retries", low=1, high=5) or 2
    no_input = c.escalation(r.get("no_input"), what) + c.defaults.no_input
    nxt = ctx.exit("next")
    on_silence = ctx.exit("on_silence", required=False) or nxt
    if not ok or silence is None or nxt is None or on_silence is None:
        return None
    return RecordNode(ctx.id, ctx.flow, ctx.mark, prompt, max_seconds or DEFAULT_RECORD_SECONDS,
                      silence, finish, beep, retries, no_input, nxt, on_silence)


def _silence(ctx: NodeContext, node: YValue | None) -> int | None:
    """Whole seconds of silence that end the recording; 0 for ``silence: false``."""
    what = f"{ctx.what}: silence"
    if node is None:
        return DEFAULT_SILENCE_SECONDS
    if isinstance(node, YScalar) and node.value is False:
        return 0
    seconds = ctx.c.read.duration(node, what)
    if seconds is None:
        return None
    if seconds != int(seconds) or not 1 <= seconds <= MAX_SILENCE_SECONDS:
        ctx.c.diags.error(node.mark, f"{what} must be whole seconds from 1s to "
                          f"{MAX_SILENCE_SECONDS}s (or false), not {seconds:g}s")
        return None
    return int(seconds)
