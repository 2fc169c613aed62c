"""The run engine: the one kernel a backtest, a paper run and a live run share.

Only the clock, the data and the execution differ (the tape, the log's candles; the paper fill
model, an exchange): strategies, order steps and risk steps are the same code.
"""
