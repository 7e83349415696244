"""The flow language: YAML call flows compiled once into immutable objects, and the engine
that runs them over a :class:`ivr.channels.channel.Channel`.

``loader`` (YAML with positions) -> ``compiler``/``nodes``/``sections`` (validation, every
diagnostic collected) -> ``model`` (frozen FlowSet) -> ``engine`` (one CallRecord per call).
``source`` holds the current FlowSet with hot reload; ``simulator`` is a Channel without
telephony. The language is documented in ``docs/flows.md``.
"""
