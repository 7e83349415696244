"""Who the web users are, and which of them a queue member interface rings.

Asterisk names a queue member by its interface (``Local/1001@agents``, as in
queues.conf); the agent console knows a person by user name. This directory joins the
two, so a pop for an interface reaches that person's console. The built-in queue gives
a user with no Asterisk interface one of its own (``Web/<name>``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ivr.config.settings import WebUser

ROLES = ("agent", "supervisor")


class UserDirectory:
    """The configured users by name, and which user each queue-member interface is."""

    def __init__(self, users: Sequence[WebUser]) -> None:
        self._by_name: dict[str, WebUser] = {}
        self._by_interface: dict[str, WebUser] = {}
        for user in users:
            if user.role not in ROLES:
                raise ValueError(f"web user {user.name}: role must be agent or supervisor")
            if user.name in self._by_name:
                raise ValueError(f"web user {user.name} is configured twice")
            self._by_name[user.name] = user
            for interface in (*user.interfaces, builtin_interface(user.name)):
                self._by_interface[interface.lower()] = user

    @property
    def users(self) -> tuple[WebUser, ...]:
        return tuple(self._by_name.values())

    def get(self, name: str) -> WebUser | None:
        return self._by_name.get(name)

    def by_interface(self, interface: str) -> WebUser | None:
        """The user a queue member interface belongs to (case-insensitive, as Asterisk's)."""
        return self._by_interface.get(interface.strip().lower())

    def agents(self) -> tuple[WebUser, ...]:
        return tuple(u for u in self._by_name.values() if u.role == "agent")


def builtin_interface(name: str) -> str:
    """Interface the built-in queue uses for a user with no Asterisk interface."""
    return f"Web/{name}"


def agent_interface(user: WebUser) -> str:
    """The interface a built-in queue offer names: the user's first configured one."""
    return user.interfaces[0] if user.interfaces else builtin_interface(user.name)


def serves_queue(user: WebUser, queue: str) -> bool:
    """Supervisors see every queue; an agent with no queues configured serves them all."""
    return user.role == "supervisor" or not user.queues or queue in user.queues
