-- The submit-rate limit (issue 7): orders the account may place in the trailing 60 seconds of
-- domain time, NULL when off. Rows of limits set before it existed read NULL, as their events do.
ALTER TABLE rm_risk_state ADD COLUMN max_orders_per_minute integer;
ALTER TABLE rm_risk_history ADD COLUMN max_orders_per_minute integer;
