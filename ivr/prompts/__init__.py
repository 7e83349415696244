"""Prompts: what the hotline says and the audio Asterisk plays for it.

- ``catalog``: ``PromptCatalog`` (prompt ids -> text per language -> ``<prefix>/<lang>/<id>``)
  and ``say`` for spoken values as word prompts; ``words.yaml`` is the word vocabulary.
- ``speech``, ``speech_vi``, ``speech_en``: numbers, digits, money, dates, times and
  durations -> word ids (Vietnamese full invoice reading, north/south variants).
- ``build``, ``audio``: espeak-ng and recordings -> 8 kHz mono 16-bit ``.wav`` + ``.ulaw``.
- ``asterisk_sounds``: the queue prompts and Vietnamese digits under the names
  Asterisk's Queue and say.c play (``ivr prompts build --install``).
- ``check``, ``flow_refs``: prompts the flows use but lack text or audio; wrong formats.
"""
