"""The registry's pure domain: partners, membership, council, certification, agreements, matching.

No I/O: aggregates check the rules, change their state and append the contract events
the change causes to ``events``; the use cases store state and events in one write.
"""
