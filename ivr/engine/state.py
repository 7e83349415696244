"""One call's state while the engine runs it: variables, the path so far, the record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.calls import CallRecord, InputStep, LookupStep, Outcome, PathStep
from ivr.channels.channel import CallInfo, TransferStatus
from ivr.flows.model import Exit, Flow, FlowSet, Literal, Value


@dataclass
class CallState:
    flowset: FlowSet
    info: CallInfo
    flow: Flow
    started_at: datetime
    kind: str
    vars: dict[str, Any] = field(default_factory=dict)
    path: list[PathStep] = field(default_factory=list)
    inputs: list[InputStep] = field(default_factory=list)
    lookups: list[LookupStep] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    stack: list[tuple[Flow, Exit]] = field(default_factory=list)
    """Where each ``call`` returns to."""
    outcome: Outcome | None = None
    error: str = ""
    note: str = ""
    """Why the IVR hands over (lookup failure, bug): goes on the case."""
    last_choice: str = ""
    """Target of the latest menu choice: the caller's intent when nothing better is known."""
    case_id: str | None = None
    transfer_queue: str | None = None
    transfer_status: TransferStatus | None = None
    transfer_started_at: datetime | None = None
    queue_seconds: float = 0.0
    apologised: bool = False
    steps: int = 0

    @classmethod
    def start(cls, flowset: FlowSet, info: CallInfo, now: datetime, kind: str,
              languages: tuple[str, ...]) -> CallState:
        flow = flowset.flow(info.flow)
        hotline = flowset.hotlines.get(info.dialled)
        language = info.language if info.language in languages else flowset.defaults.language
        st = cls(flowset, info, flow, now, kind)
        st.vars.update(
            caller={"number": info.caller},
            hotline={
                "number": info.dialled,
                "corporation": hotline.corporation if hotline else None,
                "prefix": hotline.prefix if hotline else None,
            },
            language=language,
            call={"id": info.call_id, "flow": flow.name},
        )
        return st

    @property
    def language(self) -> str:
        return str(self.vars.get("language") or self.flowset.defaults.language)

    def resolve(self, path: str) -> Any:
        """``balance.amount_due`` -> the value, or None when any part is missing."""
        value: Any = self.vars
        for part in path.split("."):
            if isinstance(value, Mapping):
                value = value.get(part)
            else:
                return None
            if value is None:
                return None
        return value

    def value(self, v: Value) -> Any:
        return v.value if isinstance(v, Literal) else self.resolve(v.path)

    def store(self, name: str, value: Any) -> None:
        """Store a lookup result; into an existing mapping (``as: caller``) it merges."""
        current = self.vars.get(name)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            self.vars[name] = {**current, **value}
        else:
            self.vars[name] = dict(value) if isinstance(value, Mapping) else value

    def account_code(self) -> str | None:
        code = self.resolve("account.code")
        return str(code) if code else None

    def intent(self, reason: str = "") -> str:
        return reason or str(self.vars.get("intent") or "") or self.last_choice or "general"

    def seconds_in_ivr(self, now: datetime) -> float:
        end = self.transfer_started_at or now
        return max(0.0, (end - self.started_at).total_seconds())

    def record(self, now: datetime, outcome: Outcome) -> CallRecord:
        return CallRecord(
            call_id=self.info.call_id,
            flow=str(self.vars["call"]["flow"]),
            flow_version=self.flowset.version,
            caller=self.info.caller,
            dialled=self.info.dialled,
            language=self.language,
            started_at=self.started_at,
            ended_at=now,
            outcome=outcome,
            path=tuple(self.path),
            inputs=tuple(self.inputs),
            lookups=tuple(self.lookups),
            case_id=self.case_id,
            transfer_queue=self.transfer_queue,
            transfer_status=None if self.transfer_status is None else self.transfer_status.value,
            ivr_seconds=self.seconds_in_ivr(now),
            queue_seconds=self.queue_seconds,
            error=self.error,
            channel=self.kind,
            synthetic=self.info.synthetic,
        )
