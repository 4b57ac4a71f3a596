"""Monitoring a served student and re-distilling it (DESIGN §11).

``plan`` (the thresholds and the monitoring plan, one source), ``config`` (the stages'
settings and results), ``logs`` (reading prediction logs into the store), ``reference``
(what the served bundle looked like on the project's own data), ``drift`` and ``estimate``
(the statistics, from scipy and scikit-learn), ``windows`` and ``alerts`` (per time window),
``stage`` (MONITOR), ``choose`` and ``redistill`` (REDISTILL).
"""
