"""The root of the product's own errors.

Every exception class ``ivr`` defines derives from :class:`IvrError`, so "one of ours"
is one ``except`` and a newcomer finds the whole vocabulary from here
(``tests/test_errors.py`` holds every class to it). A class keeps a standard base beside
it where callers catch that (``class SettingsError(IvrError, ValueError)``,
``class AmiTimeout(AmiError, TimeoutError)``).

The families, by where they live:

- the wire (``ivr/wire.py``): ``ProtocolError`` with ``LocalProtocolError`` (our bug)
  and ``RemoteProtocolError`` (the peer's), shared by the AGI and AMI cores; the AMI
  client's ``AmiError`` family (``ivr/ami/errors.py``);
- a call: ``CallerHungUp``, ``ChannelError`` (``ivr/channels/channel.py``),
  ``SoftphoneInputError``, ``FlowBug`` (``ivr/engine/handlers.py``);
- files the product reads: ``FlowError`` (``ivr/config/diagnostics.py``, carries the
  diagnostics), ``LimitExceeded`` (``ivr/config/loader.py``), ``SettingsError``,
  ``CatalogError``, ``ConditionError``, ``DurationError``;
- the store and lookups: ``LookupUnavailable`` with ``DatabaseUnavailable`` and
  ``DatabaseFileReplaced`` (``ivr/store/health.py``), ``UnknownLookup``,
  ``UnknownCase``, ``SeedError``;
- the process: ``StartupError`` (``ivr/service.py``), ``CliError``/``UsageError``
  (``ivr/cli``), ``AudioError`` (``ivr/prompts/audio.py``).
"""

from __future__ import annotations


class IvrError(Exception):
    """Base of every error the product defines."""
