"""A local server that speaks the Move AI UGC GraphQL API and runs motion capture on this machine.

Never shipped inside the extension zip. Run with ``python -m local_engine serve --help``.
"""
