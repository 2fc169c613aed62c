"""A trading run's risk on the write side (the rules themselves are `domain/risk/`).

- `run_monitor.py`: `RiskMonitor`, the run's monitor: marks the book at each close, records
  what crossed a limit, places the liquidation asks while REDUCING.
- `run_steps.py`: `RiskSteps`, what the run engine does with the monitor at a close (cancel
  on a halt, sell on a reduce, apply outside changes).
- `outside_changes.py`: `OutsideRiskChanges`, the changes of the account's risk record a run
  did not make (an operator's, a reconciliation's), each at the candle it reaches.

The use cases that change the risk record (set limits, halt, reduce, resume, record breaches)
are `commands/handlers/risk.py`.
"""
