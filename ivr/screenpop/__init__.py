"""The screen-pop pipeline: a queue event in, the case card on the right agent's console.

Read in the order an event travels::

    AMI Event (ivr.ami) --pop_from_ami--> PopEvent --handle--> Delivery --> JSON card
    built-in queue -----------------------^            (NOTIFY between web nodes)

- ``ami_feed.py``: reads the AMI client's events (Asterisk's ``AgentCalled``,
  ``AgentConnect``, ``AgentComplete``, ...) and hands those that pop to the dispatcher.
- ``builtin_queue.py``: or, with no Asterisk, agents in the browser stand in for queue
  members and the queue itself makes the pops.
- ``events.py``: the one pop shape, :class:`PopEvent` (state, case id, member
  interface, reason), and ``pop_from_ami``.
- ``dispatcher.py``: finds the agent, records the event on the case, addresses the pop
  (``Delivery``) and delivers it here or, over PostgreSQL, on every web node, once.
- ``directory.py``: which web user a queue member interface is, and who serves a queue.
- ``pgbus.py``: the PostgreSQL ``LISTEN/NOTIFY`` fan-out between web nodes.
- ``card.py``: the case card the agent sees, read from the store once per pop.
- ``resync.py``: after an AMI (re)login, QueueStatus/QueueSummary in, and the pops that
  settle the cards a lost connection left ringing or connected.
- ``presence.py``: the consoles open on this node and who is available.
- ``contracts.py``: what the pipeline needs from the store and the bus, as protocols.

Beside it, the agent's desk: ``wording.py`` (the card in words), ``desk.py``
(availability kept per agent, after-call work) and ``callbacks.py`` (the callback
worklist's AMI Originate).

The web app (:mod:`ivr.web`) only carries consoles' websockets to and from here.
"""
