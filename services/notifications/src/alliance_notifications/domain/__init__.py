"""The notifications service's pure domain: who hears about what, on which channel, in
which language and when; how webhooks are signed and how deliveries are retried.

No I/O here: the use cases (``service/``) call these rules with the current time and
any randomness injected.
"""
