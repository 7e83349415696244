"""The agent's case card: what a pop shows about the call being offered.

The case as the IVR left it (caller, account, intent, facts read out, inputs), the
accounts registered to the caller's number (the caller may have asked for an agent
before identifying one) and the earlier cases of this caller and these accounts.
Loaded from the store when the pop is delivered, so every web node shows the same card
from the shared database; the case is read once per card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ivr.screenpop.contracts import PopStore
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.wording import FlowsNow, PromptText, path_in_words

#: Earlier cases of the same caller/account shown on a card: enough to see a pattern,
#: few enough to read at a glance.
EARLIER_CASES = 5
#: Characters of an earlier case's notes on the card; the full notes are one click away.
EARLIER_NOTES = 200


@dataclass(frozen=True, slots=True)
class CardWords:
    """What wording the card needs: the flows the service runs now and their prompts."""

    flows: FlowsNow
    catalog: PromptText | None = None


async def load_card(store: PopStore, case_id: str, *, words: CardWords | None = None,
                    directory: UserDirectory | None = None) -> dict[str, Any] | None:
    """The card for a case, or None if there is no such case.

    Besides the case it carries ``story`` (the path in words per language,
    :func:`ivr.screenpop.wording.path_in_words`) and, where the case or its events name
    a queue member interface (``PJSIP/agent1``) or user, ``agent_name``: the person."""
    case = await store.get_case(case_id)
    if case is None:
        return None
    case = dict(case)
    flows = words.flows() if words is not None else None
    case["story"] = path_in_words(case, flows, words.catalog if words else None)
    if directory is not None:
        case["agent_name"] = _person(directory, str(case.get("agent") or ""))
        case["events"] = [
            {**e, "agent_name": _person(directory, str(e.get("agent") or ""))}
            for e in case.get("events") or () if isinstance(e, dict)]
    caller = str(case.get("caller") or "")
    registered = await store.accounts_for_phone(caller) if caller else []
    accounts = {str(case.get("account") or "")} | {str(a.get("code")) for a in registered}
    earlier: dict[str, dict[str, Any]] = {}
    searches: list[dict[str, Any]] = [{"caller": caller}] if caller else []
    searches += [{"account": code} for code in sorted(accounts) if code]
    for search in searches:
        for other in await store.list_cases(limit=EARLIER_CASES + 1, **search):
            if other.get("id") != case_id:
                earlier[str(other.get("id"))] = earlier_summary(other)
    ordered = sorted(earlier.values(), key=lambda c: str(c.get("created_at")), reverse=True)
    return {**case, "registered_accounts": registered, "earlier": ordered[:EARLIER_CASES]}


def earlier_summary(case: dict[str, Any]) -> dict[str, Any]:
    """An earlier case as a line on the card."""
    notes = str(case.get("notes") or "")
    return {
        "id": case.get("id"),
        "created_at": case.get("created_at"),
        "intent": case.get("intent"),
        "status": case.get("status"),
        "disposition": case.get("disposition"),
        "agent": case.get("agent"),
        "account": case.get("account"),
        "notes": notes[:EARLIER_NOTES],
    }


def _person(directory: UserDirectory, who: str) -> str:
    """The web user a name or an interface is (``Local/1001@agents`` -> ``agent1``); an
    interface no user has is shown as it is."""
    if not who:
        return ""
    user = directory.get(who) or directory.by_interface(who)
    return user.name if user is not None else who
