"""The evaluation service's pure domain: no I/O, no clock, exact arithmetic.

framework / default_framework — versioned indicator frameworks; evidence — aggregation
of college reports and manual evidence; targets — targets from obligations; scoring —
indicator scores, composite, grade, risk; panel — multi-party scoring; depth and
formality — what the evidence says about the cooperation; cycle, result,
rectification, appeal — the aggregates and the events they emit; working_days — the
alliance's calendar.
"""
