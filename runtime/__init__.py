"""The runtime: how a flow's engine calls are made (call cache, budgets, scheduling, task runners).

Flows (flows/) describe what to compute; the runtime decides when each engine call is sent and where it runs.
"""
