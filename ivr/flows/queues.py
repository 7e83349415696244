"""Which Asterisk queues a compiled flows file can send a caller to.

Every ``transfer`` node names a key of the file's ``queues:``; an ``agent`` exit (the
``0`` key everywhere, ``when_retries_run_out``, the apology path of any failure) goes to
``defaults.agent_queue``. The Asterisk name is that entry's ``name:``; a key without an
entry is used as the name itself, as the engine does (``ivr/engine/transfer.py``). The
deployment docs' ``queues.conf`` must define each of them (tests/test_docs_asterisk.py):
a queue Asterisk does not know makes every such caller hear an apology.
"""

from __future__ import annotations

from ivr.flows.model import FlowSet, TransferNode


def queue_name(flowset: FlowSet, key: str, agent_fallback: str = "agents") -> str:
    """The Asterisk queue a ``queues:`` key stands for."""
    queue = flowset.queues.get(key)
    if queue is not None:
        return queue.name
    return agent_fallback if key == flowset.defaults.agent_queue else key


def transfer_queues(flowset: FlowSet, agent_fallback: str = "agents") -> frozenset[str]:
    """Every Asterisk queue name the flows can transfer a caller to."""
    keys = {flowset.defaults.agent_queue}
    for flow in flowset.flows.values():
        keys |= {node.queue for node in flow.nodes.values() if isinstance(node, TransferNode)}
    return frozenset(queue_name(flowset, key, agent_fallback) for key in keys)
