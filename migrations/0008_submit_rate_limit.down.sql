ALTER TABLE rm_risk_history DROP COLUMN max_orders_per_minute;
ALTER TABLE rm_risk_state DROP COLUMN max_orders_per_minute;
