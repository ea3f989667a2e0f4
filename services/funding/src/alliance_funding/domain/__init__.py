"""The funding service's pure domain: no I/O, no clock, integer minor units only.

ledger — the double-entry book of a programme and the delta + guard plans the storage
applies; execution — budget-execution figures from the book; programme — fund
programmes, their rules and tranche template; eligibility — who may apply; application
— applications and their review; tranche, recovery, award — the Award aggregate, its
tranche state machine, maker-checker and recoveries; surcharge_credit — education
surcharge credit statements of certified enterprises.
"""
