"""A local server that speaks the Move AI UGC GraphQL API and runs motion capture on this machine.

Shipped to users as its own extension (``move_mocap_engine``, see docs/local_engine_packaging.md), never inside
the add-on's zip. Run with ``python -m local_engine serve --help``.
"""

__version__ = "0.1.0"
