"""Dataset tools behind format_dataset.py: arrange ImageNet validation data, index it, subset it.

Every operation is two steps: a plan (read-only; collects every input problem) and its
application (moves, copies, links or writes files, each placed with an atomic rename).
A plan with problems is never applied, so a bad input leaves every file where it was.
"""

from valsuite.arrange.plan import Item, Plan, PlanProblems

__all__ = ["Item", "Plan", "PlanProblems"]
