"""The flow language: YAML call flows compiled once into immutable objects.

``ivr.config.loader`` (YAML with positions) -> ``compile/`` (``context`` at the bottom,
the node compilers ``nodes``/``questions``/``sections`` over it, ``driver`` on top: every
diagnostic collected) -> ``model`` (a frozen FlowSet). ``source`` holds the current
FlowSet with hot reload; ``scenarios``, ``scenario_report`` and ``coverage`` read and judge
golden scenarios. The runtime that plays a FlowSet over a channel is :mod:`ivr.engine`;
the language is documented in ``docs/flows.md``.
"""
