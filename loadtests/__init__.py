"""The benchmark: `loadtests.run` (also `python loadtests/run.py` and `uiserver bench`), the locust
model of launch traffic, the engine micro-benchmark and the two-replica Redis benchmark.

Modules import each other as `loadtests.<name>`; the scripts run as files put the checkout on
`sys.path` first.
"""
