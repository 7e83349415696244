"""Every Asterisk channel variable ``ivr`` sets or reads, and who else reads it.

One place for the names (as wazo-agid keeps its ``dialplan_variables``), so the AGI
transfer, the AMI screen-pop and docs/asterisk.md cannot drift apart.

Asterisk keeps one namespace per channel: ``_X`` and ``__X`` are the variable ``X``
marked for inheritance (one level / every level) by the channels created from it, such
as the one Queue creates to ring an agent. Setting plain ``X`` afterwards overwrites the
value *and* drops the mark (``pbx_builtin_setvar_helper`` deletes the old variable), so
a variable meant for the agent's side is set once, inherited, and never plain after it.

Who sets each one, and who reads it:

- ``IVR_CASE_ID``: we set ``__IVR_CASE_ID``. Read by manager.conf ``channelvars`` (AMI
  ``ChanVariable`` / ``DestChanVariable``: the screen-pop), the dialplan
  (``${IVR_CASE_ID}``) and a CRM on the agent's side.
- ``IVR_INTENT``, ``IVR_LANGUAGE``: we set ``__IVR_INTENT``, ``__IVR_LANGUAGE``. Read on
  the agent's side (dialplan, CRM): why they called, in which language.
- ``QUEUE_PRIO``: we set it plain; app_queue reads it on the caller's channel.
- ``CHANNEL(language)``: we set it to the caller's language before Queue; app_queue
  plays its announcements (position, hold time, periodic) and says numbers in it.
- ``QUEUESTATUS`` / ``DIALSTATUS``: app_queue / app_dial set them; we clear them before
  each transfer and read them after it.
- ``MEMBERINTERFACE``: app_queue sets it only with ``setinterfacevar=yes``; we read it
  (who answered; AMI tells the screen-pop anyway).
- ``ANSWEREDTIME``: app_queue / app_dial set it; we read it: above 0 an agent talked,
  ``0`` (Queue sets it so on an abandon) nobody answered.
- ``IVR_CALLBACK_ID``: set by the callback worklist's AMI ``Originate`` (``Variable:``,
  with ``IVR_CASE_ID``) on the agent's leg; read by the ``[ivr-callback]`` dialplan and
  a CRM (which promised callback this is). ``ivr.screenpop.callbacks``.
"""

from __future__ import annotations

from typing import Final

CASE_ID: Final = "IVR_CASE_ID"
INTENT: Final = "IVR_INTENT"
LANGUAGE: Final = "IVR_LANGUAGE"
QUEUE_PRIO: Final = "QUEUE_PRIO"
QUEUESTATUS: Final = "QUEUESTATUS"
DIALSTATUS: Final = "DIALSTATUS"
MEMBERINTERFACE: Final = "MEMBERINTERFACE"
ANSWEREDTIME: Final = "ANSWEREDTIME"
CALLBACK_ID: Final = "IVR_CALLBACK_ID"
CHANNEL_LANGUAGE: Final = "CHANNEL(language)"
#: manager.conf ``channelvars`` must list these (docs/asterisk.md): the screen-pop reads
#: the case id from the agent's leg (DestChanVariable), else from the caller's.
AMI_CHANNELVARS: Final = (CASE_ID,)


def inherited(name: str) -> str:
    """``__NAME``: inherited by every channel created from this one (the agent's leg)."""
    return "__" + name.lstrip("_")
