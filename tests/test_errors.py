"""One error vocabulary: every exception class ivr defines has the root ``IvrError``;
the AGI and AMI cores share their protocol errors and their one "need more data"."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ivr
from ivr.agi.protocol import AgiConnection
from ivr.ami.protocol import AmiConnection
from ivr.errors import IvrError
from ivr.wire import NEED_DATA, LocalProtocolError, ProtocolError, RemoteProtocolError

#: Standard bases kept beside the root, because callers catch them by that name.
STANDARD_BASES = {
    "ivr.ami.errors.AmiTimeout": TimeoutError,
    "ivr.testing.fake_asterisk.ServerSilent": TimeoutError,
    "ivr.config.settings.SettingsError": ValueError,
    "ivr.prompts.catalog.CatalogError": ValueError,
    "ivr.flows.conditions.ConditionError": ValueError,
    "ivr.flows.durations.DurationError": ValueError,
    "ivr.channels.softphone.SoftphoneInputError": ValueError,
    "ivr.engine.handlers.FlowBug": RuntimeError,
    "ivr.lookups.UnknownLookup": KeyError,
    "ivr.store.cases.UnknownCase": KeyError,
}


def product_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of ivr, by its dotted name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(ivr.__path__, "ivr."):
        # __main__ runs the CLI on import; migrations are scripts Alembic loads.
        if info.name.endswith("__main__") or ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == info.name):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_exception_ivr_defines_has_the_root() -> None:
    found = product_exceptions()
    assert len(found) >= 30  # the walk reached the whole package
    assert sorted(name for name, cls in found.items()
                  if cls is not IvrError and not issubclass(cls, IvrError)) == []


def test_standard_bases_callers_catch_are_kept() -> None:
    found = product_exceptions()
    assert {name: found[name].__mro__[1:] for name in STANDARD_BASES
            if not issubclass(found[name], STANDARD_BASES[name])} == {}


def test_one_set_of_protocol_errors_for_agi_and_ami() -> None:
    names = {"ProtocolError", "LocalProtocolError", "RemoteProtocolError"}
    defined_twice = [name for name, cls in product_exceptions().items()
                     if name.rsplit(".", 1)[1] in names and cls.__module__ != "ivr.wire"]
    assert defined_twice == []
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(ProtocolError, IvrError)


def test_both_cores_ask_for_more_bytes_the_same_way() -> None:
    agi = AgiConnection()
    agi.receive_data(b"agi_network: yes\nagi_netw")  # half an environment block
    ami = AmiConnection()
    ami.receive_data(b"Asterisk Call Manager/11")  # half a banner
    assert agi.next_event() is NEED_DATA
    assert ami.next_event() is NEED_DATA


@pytest.mark.parametrize(("conn", "garbage", "message"), [
    (AgiConnection(), b"GET / HTTP/1.1\r\n", "not an environment line: 'GET / HTTP/1.1'"),
    (AmiConnection(), b"SSH-2.0-OpenSSH_9.6\r\n", "not an AMI banner: 'SSH-2.0-OpenSSH_9.6'"),
], ids=["agi", "ami"])
def test_both_cores_raise_the_shared_remote_error(
        conn: AgiConnection | AmiConnection, garbage: bytes, message: str) -> None:
    conn.receive_data(garbage)
    with pytest.raises(RemoteProtocolError) as caught:
        conn.next_event()
    assert str(caught.value) == message
