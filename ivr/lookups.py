"""Named lookups: the only way a flow reaches data, and the way any channel asks.

A lookup is any named operation a flow asks of the store: reading a balance or filing a
report. A flow says ``lookup: balance`` with inputs taken from call variables; the
registry maps that name to an async function over the store. The registry applies the
lookup's timeout and turns any exception into an ``error`` result, so a slow or broken
database becomes a branch in the flow ("sorry, let me connect you to an agent"), never
dead air.

Nothing here knows about calls or telephony, so a text channel asks the same registry
the engine does, without the voice ``Channel``: an SMS handler or a web form builds a
:class:`LookupContext` for its request (``channel="sms"`` or ``"web"``; ``call_id`` is
then any id unique to the request, such as the SMS message id or the form submission,
and the same id always gets the same ticket) and calls ``registry.run(name, inputs,
ctx)``: ``report_outage``, ``service_request``, ``request_callback`` or a read such as
``balance``. It gets the same :class:`LookupResult` a flow branches on::

    registry = build_lookups(store)          # ivr.store.lookups, built once
    ctx = LookupContext(call_id=f"sms-{message_id}", caller=sender, dialled=hotline,
                        language="vi", channel="sms")
    result = await registry.run("report_outage", {"account": code}, ctx)
    if result.status is LookupStatus.FOUND:
        reply(f"Ticket {result.value['ticket']}")   # else: not_found, error, timeout
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ivr.errors import IvrError
from ivr.failures import describe
from ivr.masking import mask_digit_runs
from ivr.metrics import NO_METRICS, MetricsHooks

log = logging.getLogger(__name__)

#: Default seconds a lookup may take before the flow takes its ``timeout`` branch.
#: Callers notice a pause past about two seconds; an agent is better than silence.
DEFAULT_LOOKUP_TIMEOUT = 2.0


class LookupStatus(enum.Enum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What a lookup returns; flows branch on ``status`` and read ``value``."""

    status: LookupStatus
    value: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Fields the flow can read as ``<store-as>.<field>`` (e.g. ``balance.amount_due``)."""
    error: str = ""
    """Why an ERROR/TIMEOUT happened, recorded on the call and the case."""
    elapsed_ms: float = 0.0

    @classmethod
    def found(cls, **value: Any) -> LookupResult:
        return cls(LookupStatus.FOUND, MappingProxyType(dict(value)))

    @classmethod
    def not_found(cls, **value: Any) -> LookupResult:
        return cls(LookupStatus.NOT_FOUND, MappingProxyType(dict(value)))


RequestChannel = Literal["phone", "sms", "web"]
"""How a request reached us: a phone call (Asterisk, the browser softphone, the
simulator: anything the engine runs), a text message, or a web form."""
REQUEST_CHANNELS: tuple[RequestChannel, ...] = ("phone", "sms", "web")


@dataclass(frozen=True, slots=True)
class LookupContext:
    """Facts about the request a lookup may use beyond its declared inputs."""

    call_id: str
    """The request's id: the call's, or one unique per SMS or form submission (writes are
    idempotent per id: the same id gets the same ticket)."""
    caller: str
    """Who asks: the caller's or the sender's phone number (may be empty on the web)."""
    dialled: str
    """The hotline asked (the dialled number, or the hotline the SMS or page is for)."""
    language: str
    flow: str = ""
    """The flow asking, for a phone call; empty otherwise."""
    channel: RequestChannel = "phone"

    def __post_init__(self) -> None:
        if self.channel not in REQUEST_CHANNELS:
            raise ValueError(f"unknown request channel {self.channel!r}: use one of "
                             f"{', '.join(REQUEST_CHANNELS)}")


LookupFn = Callable[[Mapping[str, Any], LookupContext], Awaitable[LookupResult]]

Shape = Mapping[str, "Shape | None"]
"""The fields of a result's value: name -> the field's own fields (``None``: a plain
value, a list, or fields not known). The compiler checks ``balance.amount_due`` in a flow
against the shape its lookup declares."""

NO_FIELDS: Shape = MappingProxyType({})
"""The shape of a value with no fields (``record_survey``'s, most not_found values)."""


@dataclass(frozen=True, slots=True)
class LookupSpec:
    """A named lookup, declared once: its function, inputs, result shape and timeout."""

    name: str
    fn: LookupFn
    inputs: frozenset[str] = frozenset()
    """Input names the lookup requires (the compiler checks a flow supplies them)."""
    optional_inputs: frozenset[str] = frozenset()
    timeout: float = DEFAULT_LOOKUP_TIMEOUT
    description: str = ""
    writes: bool = False
    """True for lookups that store something the caller will be told about (tickets,
    cases): their timeout is longer, since abandoning a committed write is worse."""
    returns: Shape | None = None
    """The fields of a ``found`` result's value. Required: the registry refuses a spec
    without it, since a shape left out would let ``balance.payed`` through unchecked."""
    not_found_returns: Shape = field(default_factory=lambda: NO_FIELDS)
    """The fields a ``not_found`` result still carries (``count: 0``), if any."""


class UnknownLookup(IvrError, KeyError):
    pass


class LookupUnavailable(IvrError):
    """Raised by what a lookup reads or writes when it knows it cannot answer now (a
    database whose circuit breaker is open): the flow takes its ``error`` branch at once,
    and the registry logs nothing more, since the break itself was logged once."""


class LookupRegistry:
    """Immutable once built: name -> :class:`LookupSpec`."""

    def __init__(self, specs: Iterable[LookupSpec] = (), *,
                 metrics: MetricsHooks = NO_METRICS) -> None:
        self._metrics = metrics
        self._specs: dict[str, LookupSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"lookup {spec.name!r} registered twice")
            if spec.returns is None:
                raise ValueError(f"lookup {spec.name!r} declares no result shape: give "
                                 "returns= (the fields of its found value; {} for none)")
            self._specs[spec.name] = spec

    def names(self) -> frozenset[str]:
        return frozenset(self._specs)

    def spec(self, name: str) -> LookupSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownLookup(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def merged(self, other: LookupRegistry) -> LookupRegistry:
        return LookupRegistry([*self._specs.values(), *other._specs.values()],
                              metrics=self._metrics)

    async def run(self, name: str, inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        """Run a lookup with its timeout; never raises except on cancellation."""
        spec = self.spec(name)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(spec.timeout):
                result = await spec.fn(inputs, ctx)
        except TimeoutError:
            result = LookupResult(
                LookupStatus.TIMEOUT, error=f"{name}: no answer within {spec.timeout:g}s"
            )
            log.warning(
                "lookup %s timed out after %.1fs (call %s)", name, spec.timeout, ctx.call_id
            )
        except asyncio.CancelledError:
            raise
        except LookupUnavailable as exc:
            result = LookupResult(LookupStatus.ERROR, error=f"{name}: {describe(exc)}")
            log.debug("lookup %s refused at once (call %s): %s", name, ctx.call_id, exc)
        except Exception as exc:  # any failure becomes the flow's error branch
            result = LookupResult(LookupStatus.ERROR, error=f"{name}: {describe(exc)}")
            # Masked: a driver's error text quotes its parameters (an account code).
            log.warning("lookup %s failed (call %s): %s", name, ctx.call_id,
                        mask_digit_runs(describe(exc)))
        elapsed = (time.perf_counter() - started) * 1000
        self._metrics.lookup(name, result.status.value, elapsed / 1000)
        return LookupResult(result.status, result.value, result.error, elapsed)
