"""The named lookups flows call (``lookup: balance``), built over a :class:`Store`.

Each lookup validates its inputs (bad keys are a domain outcome: ``not_found``), asks
the store, and returns a :class:`LookupResult`. Database errors are not caught here:
the registry turns them into the flow's ``error`` branch and applies the timeouts.

A new lookup is its query (``queries.py``) and one row in :func:`build_lookups`: its
inputs, timeout and the shape of what it returns, declared once, here. The compiler
reads names, inputs and shapes from this registry (:func:`known_lookups` without a
database).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any, cast

from ivr.lookups import (
    NO_FIELDS,
    LookupContext,
    LookupFn,
    LookupRegistry,
    LookupResult,
    LookupSpec,
    Shape,
)
from ivr.metrics import NO_METRICS, MetricsHooks
from ivr.store.convert import normalise_phone
from ivr.store.requests import SERVICE_KINDS
from ivr.store.store import Store

#: Seconds a read may take: callers notice a pause past about two seconds, and the
#: flow still has to speak the answer (or apologise) after it.
READ_TIMEOUT = 1.5
#: Seconds a write may take: abandoning a write the caller was about to be told about is
#: worse than a longer pause, and a busy SQLite writer may hold the lock briefly.
WRITE_TIMEOUT = 4.0

_DIGITS_11 = re.compile(r"\d{11}")
#: How many trailing digits of a registered phone prove a web visitor knows the account.
PHONE_CHECK_DIGITS = 4
_CHECK_DIGITS = re.compile(rf"\d{{{PHONE_CHECK_DIGITS}}}")
#: An area search needs a few letters ("Q3" would match everything) and no essay.
MIN_AREA_SEARCH = 3
MAX_AREA_SEARCH = 100
_PREFIX = re.compile(r"[A-Za-z]{2}")
_CODE = re.compile(r"[A-Z]{2}[A-Z0-9]{11}")


def _text(inputs: Mapping[str, Any], name: str) -> str:
    value = inputs.get(name)
    return "" if value is None else str(value).strip()


def _account(inputs: Mapping[str, Any], name: str = "account") -> str | None:
    """An account input may be a code or the account dict another lookup found."""
    value = inputs.get(name)
    if isinstance(value, Mapping):
        value = value.get("code")
    code = "" if value is None else str(value).strip().upper()
    return code if _CODE.fullmatch(code) else None


class _Lookups:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def accounts_for_caller(
        self, inputs: Mapping[str, Any], ctx: LookupContext
    ) -> LookupResult:
        phone = _text(inputs, "phone") or ctx.caller
        if not normalise_phone(phone):
            return LookupResult.not_found(count=0, codes=[])
        # The call's id: the greeting's outage check asked the same already (one query).
        found = await self.store.accounts_for_phone(phone, call_id=ctx.call_id)
        if not found:
            return LookupResult.not_found(count=0, codes=[])
        return LookupResult.found(
            count=len(found), codes=[a["code"] for a in found], account=found[0]
        )

    async def outage_for_caller(
        self, inputs: Mapping[str, Any], ctx: LookupContext
    ) -> LookupResult:
        if not normalise_phone(ctx.caller):
            return LookupResult.not_found()
        found = await self.store.outage_for_phone(ctx.caller, call_id=ctx.call_id)
        return LookupResult.not_found() if found is None else LookupResult.found(**found)

    async def account_by_code(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        digits, prefix = _text(inputs, "digits"), _text(inputs, "prefix").upper()
        if not _DIGITS_11.fullmatch(digits):
            return LookupResult.not_found()
        if not _PREFIX.fullmatch(prefix):
            # The dialled hotline is unknown (a dialplan that passes no number, a trunk
            # that sends +84...): the digits alone still name the account when only one
            # corporation has them.
            codes = await self.store.accounts_by_digits(digits)
            if len(codes) != 1:
                return LookupResult.not_found()
            prefix = codes[0][:2]
        found = await self.store.account_by_code(prefix + digits)
        return LookupResult.not_found() if found is None else LookupResult.found(**found)

    async def balance(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        code = _account(inputs)
        found = None if code is None else await self.store.balance(code)
        return LookupResult.not_found() if found is None else LookupResult.found(**found)

    async def meter_reading(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        code = _account(inputs)
        found = None if code is None else await self.store.meter_reading(code)
        return LookupResult.not_found() if found is None else LookupResult.found(**found)

    async def phone_check(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        code, digits = _account(inputs), _text(inputs, "last_digits")
        if code is None or not _CHECK_DIGITS.fullmatch(digits):
            return LookupResult.not_found()
        phones = await self.store.phones_for_account(code)
        # Compare every phone, in constant time: how long the answer takes must not
        # tell which digits (or whether the account) matched.
        matched = False
        for phone in phones:
            matched |= hmac.compare_digest(phone[-PHONE_CHECK_DIGITS:].encode(), digits.encode())
        return LookupResult.found() if matched else LookupResult.not_found()

    async def outage_for_area(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        name = _text(inputs, "area")
        if len(name) < MIN_AREA_SEARCH:
            return LookupResult.not_found()
        found = await self.store.outage_for_area(name[:MAX_AREA_SEARCH])
        return LookupResult.not_found() if found is None else LookupResult.found(**found)

    async def outage_for_account(
        self, inputs: Mapping[str, Any], ctx: LookupContext
    ) -> LookupResult:
        code = _account(inputs)
        found = None if code is None else await self.store.outage_for_account(code)
        return LookupResult.not_found() if found is None else LookupResult.found(**found)

    async def report_outage(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        found = await self.store.report_outage(
            call_id=ctx.call_id, caller=ctx.caller, account=_account(inputs)
        )
        return LookupResult.found(**found)

    async def service_request(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        kind = _text(inputs, "kind")
        if kind not in SERVICE_KINDS:
            return LookupResult.not_found()
        reference = await self.store.service_request(
            call_id=ctx.call_id, caller=ctx.caller, kind=kind, account=_account(inputs)
        )
        return LookupResult.found(reference=reference)

    async def request_callback(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        phone = normalise_phone(_text(inputs, "phone") or ctx.caller)
        reason = _text(inputs, "reason")
        if not phone or not reason:
            return LookupResult.not_found()
        reference = await self.store.request_callback(
            call_id=ctx.call_id,
            caller=ctx.caller,
            dialled=ctx.dialled,
            language=ctx.language,
            phone=phone,
            reason=reason,
            account=_account(inputs),
        )
        return LookupResult.found(reference=reference, phone=phone)

    async def record_survey(self, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        raw = _text(inputs, "score")
        if not (raw.isdigit() and 1 <= int(raw) <= 5):
            return LookupResult.not_found()
        await self.store.record_survey(call_id=ctx.call_id, caller=ctx.caller, score=int(raw))
        return LookupResult.found()


#: Result shapes (``LookupSpec.returns``): the fields each lookup's found value has, so
#: ``ivr validate`` catches ``balance.payed``. A test runs every lookup over the seeded
#: store and holds each to its shape.
_ACCOUNT: Shape = {"code": None, "last4": None, "name": None, "area": None}
_OUTAGE: Shape = {
    "area": None, "planned": None, "cause": None, "started_at": None,
    "estimated_restore": None, "status": None,
}


def build_lookups(
    store: Store, *, read_timeout: float = READ_TIMEOUT, write_timeout: float = WRITE_TIMEOUT,
    metrics: MetricsHooks = NO_METRICS,
) -> LookupRegistry:
    """Every lookup flows may name, with its inputs, result shape and timeout;
    ``metrics`` times them."""
    a = _Lookups(store)

    def read(name: str, fn: LookupFn, inputs: set[str], optional: set[str], what: str, *,
             returns: Shape, not_found: Shape | None = None) -> LookupSpec:
        return LookupSpec(name, fn, frozenset(inputs), frozenset(optional), read_timeout, what,
                          returns=returns, not_found_returns=not_found or NO_FIELDS)

    def write(name: str, fn: LookupFn, inputs: set[str], optional: set[str], what: str, *,
              returns: Shape) -> LookupSpec:
        return LookupSpec(name, fn, frozenset(inputs), frozenset(optional), write_timeout, what,
                          writes=True, returns=returns)

    return LookupRegistry(
        [
            read(
                "accounts_for_caller",
                a.accounts_for_caller,
                set(),
                {"phone"},
                "accounts registered to the caller's number (or `phone`)",
                returns={"count": None, "codes": None, "account": _ACCOUNT},
                not_found={"count": None, "codes": None},  # count 0, no codes
            ),
            read(
                "outage_for_caller",
                a.outage_for_caller,
                set(),
                set(),
                "outage now affecting an area where the caller has an account",
                returns=_OUTAGE,
            ),
            read(
                "account_by_code",
                a.account_by_code,
                {"digits"},
                {"prefix"},
                "account from the 11 digits keyed and the hotline's 2-letter prefix "
                "(without one, the only corporation whose customer has those digits)",
                returns={**_ACCOUNT, "address": None, "corporation": None},
            ),
            read(
                "balance",
                a.balance,
                {"account"},
                set(),
                "latest bill and everything still unpaid",
                returns={
                    "amount_due": None, "amount": None, "period": None, "period_end": None,
                    "due_date": None, "kwh": None, "paid": None,
                },
            ),
            read(
                "meter_reading",
                a.meter_reading,
                {"account"},
                set(),
                "last meter index, its date and the consumption since the one before",
                returns={"index": None, "read_on": None, "kwh": None},
            ),
            read(
                "outage_for_area",
                a.outage_for_area,
                {"area"},
                set(),
                "active (else next planned) outage in the areas whose name contains `area`",
                returns=_OUTAGE,
            ),
            read(
                "phone_check",
                a.phone_check,
                {"account", "last_digits"},
                set(),
                "the last 4 digits given match a phone registered to the account "
                "(a web visitor proves they know it before seeing the bill)",
                returns=NO_FIELDS,
            ),
            read(
                "outage_for_account",
                a.outage_for_account,
                {"account"},
                set(),
                "active (else next planned) outage in the account's area",
                returns=_OUTAGE,
            ),
            write(
                "report_outage",
                a.report_outage,
                set(),
                {"account"},
                "file an outage report; the same call always gets the same ticket",
                returns={"ticket": None, "linked_outage": None, "estimated_restore": None},
            ),
            write(
                "service_request",
                a.service_request,
                {"kind"},
                {"account"},
                "new_connection, meter_relocation, contract_change or meter_inspection",
                returns={"reference": None},
            ),
            write(
                "request_callback",
                a.request_callback,
                {"reason"},
                {"account", "phone"},
                "an agent calls back; stored as a case in the callbacks queue",
                returns={"reference": None, "phone": None},
            ),
            write(
                "record_survey",
                a.record_survey,
                {"score"},
                set(),
                "a 1-5 satisfaction score for this call",
                returns=NO_FIELDS,
            ),
        ],
        metrics=metrics,
    )


def known_lookups() -> LookupRegistry:
    """The lookup names, inputs and result shapes flows may use, for validation without a
    database (``ivr validate``, ``ivr prompts check``, ``ivr test-flows``).

    ``build_lookups`` only wires functions to a store; none runs here, so no store is
    needed to read the declarations.
    """
    return build_lookups(cast(Store, None))
