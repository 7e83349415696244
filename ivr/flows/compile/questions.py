"""Compiling the question nodes (``menu`` and ``input``) and what they share."""

from __future__ import annotations

import re
from types import MappingProxyType

from ivr.config.diagnostics import did_you_mean
from ivr.config.loader import YMap, YScalar, YValue
from ivr.flows.compile.context import READ_BACK_PROMPTS, NodeContext
from ivr.flows.model import AnyNode, Exit, InputNode, MenuNode, Question
from ivr.phone import ALL_KEYS

#: Named input checks, so supervisors never write regular expressions for the usual ones.
CHECKS = {
    "customer_code": r"\d{11}",  # the 11 digits after the 2-letter prefix (domain.md)
    "phone": r"0\d{9,10}",  # Vietnamese numbers: 0 + 9 digits (mobile) or 10 (landline)
    "score": r"[1-5]",  # survey answers
    "digits": r"\d+",
}
#: Longest entry a caller can key; longer is a flows-file mistake.
MAX_INPUT_DIGITS = 32
QUESTION_KEYS = ("prompt", "reprompt", "no_input", "no_match", "retries",
                 "when_retries_run_out", "timeout", "barge_in")
INPUT_KEYS = (*QUESTION_KEYS, "digits", "min_digits", "max_digits", "terminator",
              "inter_digit_timeout", "pattern", "check", "store", "read_back", "sensitive", "keep")
#: ``keep:`` values: keyed digits are masked in call records, cases and logs unless the
#: flow says the agent needs them as keyed (a customer code; never a PIN).
KEEP_CLEAR, KEEP_MASKED = "clear", "masked"


def question(ctx: NodeContext, q: YMap, *, used_keys: set[str]) -> Question | None:
    c, what = ctx.c, ctx.what
    prompt = c.play_items(q.get("prompt"), what)
    if q.get("prompt") is None:
        c.diags.error(q.mark, f"{what} needs a 'prompt'")
    reprompt = c.play_items(q.get("reprompt"), what) if q.get("reprompt") else prompt
    exhausted = ctx.exit("when_retries_run_out", required=False,
                         node=q.get("when_retries_run_out")) or c.default_exhausted
    keys = {k: e for k, e in c.default_keys.items() if k not in used_keys}
    return Question(
        prompt=prompt,
        reprompt=reprompt,
        no_input=c.escalation(q.get("no_input"), what) + c.defaults.no_input,
        no_match=c.escalation(q.get("no_match"), what) + c.defaults.no_match,
        retries=c.read.integer(q.get("retries"), f"{what}: retries", low=1, high=10)
        or c.defaults.retries,
        exhausted=exhausted,
        timeout=c.read.duration(q.get("timeout"), f"{what}: timeout") or c.defaults.timeout,
        inter_digit_timeout=c.read.duration(q.get("inter_digit_timeout"),
                                            f"{what}: inter_digit_timeout")
        or c.defaults.inter_digit_timeout,
        keys=MappingProxyType(keys),
        barge_in=c.read.boolean(q.get("barge_in"), f"{what}: barge_in") is not False,
    )


def compile_menu(ctx: NodeContext, v: YValue) -> AnyNode | None:
    c = ctx.c
    q = c.read.mapping(v, f"{ctx.what}: menu")
    if q is None:
        return None
    c.read.keys(q, (*QUESTION_KEYS, "options"), f"menu {ctx.id!r}")
    given = q.get("options")
    if given is not None and isinstance(given, YScalar) and given.value is None:
        given = YMap((), given.mark)  # 'options:' with nothing after it: none given
    opts = c.read.mapping(
        given, f"menu {ctx.id!r}",
        dup_message=lambda key, line: f"menu {ctx.id!r} uses key {key!r} twice "
        f"(first at line {line})")
    if opts is None:
        if q.get("options") is None:
            c.diags.error(q.mark, f"{ctx.what} has no way out: add 'options'")
        return None
    if not opts.items and not opts.duplicates:
        c.diags.error(opts.mark, f"{ctx.what} has no options: give at least one key, like "
                      "\"1\": next_node")
        return None
    options: dict[str, Exit] = {}
    for key, target in opts.items:
        digit = str(key.value)
        if len(digit) != 1 or digit not in ALL_KEYS:
            c.diags.error(key.mark, f"menu {ctx.id!r}: {digit!r} is not a single key "
                          "(0-9, * or #)")
            continue
        out = ctx.exit(f"option {digit!r}", node=target)
        if out is not None:
            options[digit] = out
    qq = question(ctx, q, used_keys=set(options))
    if qq is None:
        return None
    return MenuNode(ctx.id, ctx.flow, ctx.mark, qq, MappingProxyType(options))


def compile_input(ctx: NodeContext, v: YValue) -> AnyNode | None:
    c, what = ctx.c, ctx.what
    q = c.read.mapping(v, f"{what}: input")
    if q is None:
        return None
    c.read.keys(q, INPUT_KEYS, f"input {ctx.id!r}")
    digits = c.read.integer(q.get("digits"), f"{what}: digits", low=1, high=MAX_INPUT_DIGITS)
    low = c.read.integer(q.get("min_digits"), f"{what}: min_digits", low=1,
                         high=MAX_INPUT_DIGITS) or digits or 1
    high = c.read.integer(q.get("max_digits"), f"{what}: max_digits", low=1,
                          high=MAX_INPUT_DIGITS) or digits or MAX_INPUT_DIGITS
    if low > high:
        c.diags.error(q.mark, f"{what}: min_digits {low} is more than max_digits {high}")
    terminator = c.read.text(q.get("terminator"), f"{what}: terminator") or ""
    if terminator not in ("", "#", "*"):
        c.diags.error(q.key_mark("terminator"), f"{what}: terminator must be # or *")
    pattern_text = c.read.text(q.get("pattern"), f"{what}: pattern")
    check = c.read.word(q.get("check"), f"{what}: check")
    if check is not None:
        if pattern_text is not None:
            c.diags.error(q.key_mark("check"), f"{what}: give 'check' or 'pattern', not both")
        elif check not in CHECKS:
            c.diags.error(q.key_mark("check"), f"{what}: unknown check {check!r}; known: "
                          f"{', '.join(CHECKS)}{did_you_mean(check, CHECKS)}")
        else:
            pattern_text = CHECKS[check]
    pattern = None
    if pattern_text is not None:
        try:
            pattern = re.compile(pattern_text)
        except re.error as exc:
            c.diags.error(q.key_mark("pattern"), f"{what}: bad pattern: {exc}")
    store = c.read.word(q.get("store"), f"{what}: store")
    if q.get("store") is None:
        c.diags.error(q.mark, f"{what} needs 'store:' (the variable that keeps the digits)")
    read_back = bool(c.read.boolean(q.get("read_back"), f"{what}: read_back"))
    if read_back:
        c.engine_prompts.update(READ_BACK_PROMPTS)
    masked = _masked(ctx, q)
    qq = question(ctx, q, used_keys=set())
    nxt = ctx.exit("next")
    if qq is None or nxt is None or store is None:
        return None
    return InputNode(ctx.id, ctx.flow, ctx.mark, qq, low, high, terminator, pattern, store,
                     read_back, masked, nxt)


def _masked(ctx: NodeContext, q: YMap) -> bool:
    """Whether the digits are masked in records: yes unless ``keep: clear``.

    ``sensitive: true`` (the old opt-in) still says masked; ``sensitive: false`` used to
    keep the digits in clear and now only warns, so no flow leaks a PIN by omission.
    """
    c, what = ctx.c, ctx.what
    keep = c.read.word(q.get("keep"), f"{what}: keep")
    if keep is not None and keep not in (KEEP_CLEAR, KEEP_MASKED):
        c.diags.error(q.key_mark("keep"), f"{what}: keep must be {KEEP_CLEAR} or "
                      f"{KEEP_MASKED}, not {keep!r}")
    sensitive = c.read.boolean(q.get("sensitive"), f"{what}: sensitive")
    if sensitive is True and keep == KEEP_CLEAR:
        c.diags.error(q.key_mark("keep"), f"{what}: 'keep: clear' and 'sensitive: true' "
                      "contradict each other: keep one")
    elif sensitive is False and keep is None:
        c.diags.warning(q.key_mark("sensitive"), f"{what}: keyed digits are masked in call "
                        "records unless the input says 'keep: clear'; 'sensitive: false' "
                        "no longer keeps them")
    return keep != KEEP_CLEAR
