"""The evaluation service's pure domain: no I/O, no clock, exact arithmetic.

framework / default_framework — versioned indicator frameworks; computation — the
indicator definition language and the one function that computes any indicator's
figure from college reports and manual evidence (evidence — the window, manual evidence,
measurements); targets — targets from obligations; scoring —
indicator scores, composite, grade, risk; panel — multi-party scoring; depth and
formality — what the evidence says about the cooperation; cycle, result,
rectification, appeal — the aggregates and the events they emit; working_days — the
alliance's calendar.
"""
