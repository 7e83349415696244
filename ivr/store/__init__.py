"""The data store: accounts, bills, outages, reports, cases and call records.

``Store`` is the only thing in ``ivr`` that opens a database connection; flows reach
it through the named lookups built by :func:`ivr.store.lookups.build_lookups`.
"""

from ivr.store.cases import UnknownCase
from ivr.store.store import Store

__all__ = ["Store", "UnknownCase"]
