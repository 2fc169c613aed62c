-- The read models the projectors keep (issue 6). Every row derives from the event log and can
-- be dropped and rebuilt from it. Times are UTC (timestamptz); each `*_kst` column is the same
-- instant's KST wall time, generated (never entered). Amounts are exact numerics.

-- A projector stopped on an event it could not apply: the event, the error, until retried.
CREATE TABLE projection_parked (
    projection text PRIMARY KEY,
    position bigint NOT NULL,
    bus_name text NOT NULL,
    error text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now()
);

-- Every event's envelope, to follow a flow by correlation id (fill -> order -> signal -> candle).
CREATE TABLE rm_event_timeline (
    position bigint PRIMARY KEY,
    bus_name text NOT NULL,
    originator_id uuid NOT NULL,
    originator_version integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    occurred_at_kst timestamp GENERATED ALWAYS AS (occurred_at AT TIME ZONE 'Asia/Seoul') STORED,
    actor text NOT NULL,
    causation_id text NOT NULL,
    correlation_id text NOT NULL
);
CREATE INDEX rm_event_timeline_correlation ON rm_event_timeline (correlation_id, position);
CREATE INDEX rm_event_timeline_originator ON rm_event_timeline (originator_id, position);

CREATE TABLE rm_orders (
    order_id uuid PRIMARY KEY,
    client_order_id text NOT NULL UNIQUE,
    strategy_id text NOT NULL,
    market text NOT NULL,
    side text NOT NULL,
    order_type text NOT NULL,
    price_krw numeric,
    volume_btc numeric,
    amount_krw numeric,
    status text NOT NULL,
    exchange_order_id text,
    filled_btc numeric NOT NULL DEFAULT 0,
    filled_krw numeric NOT NULL DEFAULT 0,
    fees_krw numeric NOT NULL DEFAULT 0,
    fills integer NOT NULL DEFAULT 0,
    reason text,
    placed_at timestamptz NOT NULL,
    placed_at_kst timestamp GENERATED ALWAYS AS (placed_at AT TIME ZONE 'Asia/Seoul') STORED,
    updated_at timestamptz NOT NULL,
    updated_at_kst timestamp GENERATED ALWAYS AS (updated_at AT TIME ZONE 'Asia/Seoul') STORED,
    correlation_id text NOT NULL,
    last_position bigint NOT NULL
);
CREATE INDEX rm_orders_strategy ON rm_orders (strategy_id, placed_at);
CREATE INDEX rm_orders_status ON rm_orders (status, placed_at);

CREATE TABLE rm_order_fills (
    order_id uuid NOT NULL,
    trade_id text NOT NULL,
    price_krw numeric NOT NULL,
    qty_btc numeric NOT NULL,
    fee_krw numeric NOT NULL,
    filled_at timestamptz NOT NULL,
    filled_at_kst timestamp GENERATED ALWAYS AS (filled_at AT TIME ZONE 'Asia/Seoul') STORED,
    position bigint NOT NULL,
    PRIMARY KEY (order_id, trade_id)
);

CREATE TABLE rm_order_status_history (
    order_id uuid NOT NULL,
    position bigint NOT NULL,
    status text NOT NULL,
    reason text,
    changed_at timestamptz NOT NULL,
    changed_at_kst timestamp GENERATED ALWAYS AS (changed_at AT TIME ZONE 'Asia/Seoul') STORED,
    actor text NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE rm_signals (
    signal_id uuid PRIMARY KEY,
    run_id text NOT NULL,
    strategy_id text NOT NULL,
    market text NOT NULL,
    candle_open_time timestamptz NOT NULL,
    candle_open_time_kst timestamp
        GENERATED ALWAYS AS (candle_open_time AT TIME ZONE 'Asia/Seoul') STORED,
    side text NOT NULL,
    order_type text NOT NULL,
    price_krw numeric,
    volume_btc numeric,
    amount_krw numeric,
    reference_price_krw numeric NOT NULL,
    reason text NOT NULL,
    tag text NOT NULL,
    created_at timestamptz NOT NULL,
    created_at_kst timestamp GENERATED ALWAYS AS (created_at AT TIME ZONE 'Asia/Seoul') STORED,
    correlation_id text NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX rm_signals_strategy ON rm_signals (strategy_id, candle_open_time);

CREATE TABLE rm_positions (
    position_id uuid PRIMARY KEY,
    account text NOT NULL,
    strategy_id text NOT NULL,
    market text NOT NULL,
    qty_btc numeric NOT NULL DEFAULT 0,
    cost_basis_krw numeric NOT NULL DEFAULT 0,
    realised_pnl_krw numeric NOT NULL DEFAULT 0,
    fees_krw numeric NOT NULL DEFAULT 0,
    fills integer NOT NULL DEFAULT 0,
    is_open boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL,
    updated_at_kst timestamp GENERATED ALWAYS AS (updated_at AT TIME ZONE 'Asia/Seoul') STORED,
    UNIQUE (account, strategy_id, market)
);

-- The account's cash ledger: its capital per strategy, and realised P&L per KST trading day.
CREATE TABLE rm_portfolios (
    portfolio_id uuid PRIMARY KEY,
    account text NOT NULL UNIQUE,
    opened_at timestamptz NOT NULL
);

CREATE TABLE rm_strategy_capital (
    portfolio_id uuid NOT NULL,
    strategy_id text NOT NULL,
    allocated_krw numeric NOT NULL DEFAULT 0,
    cash_krw numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (portfolio_id, strategy_id)
);

-- Realised P&L and fees per strategy per KST trading day (09:00 KST to 09:00 KST).
CREATE TABLE rm_daily_pnl (
    portfolio_id uuid NOT NULL,
    strategy_id text NOT NULL,
    trading_day date NOT NULL,
    realised_pnl_krw numeric NOT NULL DEFAULT 0,
    fees_krw numeric NOT NULL DEFAULT 0,
    cash_delta_krw numeric NOT NULL DEFAULT 0,
    fills integer NOT NULL DEFAULT 0,
    PRIMARY KEY (portfolio_id, strategy_id, trading_day)
);

CREATE TABLE rm_risk_state (
    risk_id uuid PRIMARY KEY,
    account text NOT NULL UNIQUE,
    trading_state text NOT NULL,
    max_order_krw numeric,
    max_exposure_krw numeric,
    daily_loss_krw numeric,
    max_drawdown numeric,
    reason text,
    changed_by text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_at_kst timestamp GENERATED ALWAYS AS (updated_at AT TIME ZONE 'Asia/Seoul') STORED
);

CREATE TABLE rm_risk_history (
    position bigint PRIMARY KEY,
    risk_id uuid NOT NULL,
    bus_name text NOT NULL,
    trading_state text,
    max_order_krw numeric,
    max_exposure_krw numeric,
    daily_loss_krw numeric,
    max_drawdown numeric,
    reason text,
    actor text NOT NULL,
    changed_at timestamptz NOT NULL,
    changed_at_kst timestamp GENERATED ALWAYS AS (changed_at AT TIME ZONE 'Asia/Seoul') STORED
);
CREATE INDEX rm_risk_history_risk ON rm_risk_history (risk_id, position);

-- Candles of the log: one-minute rows as recorded (corrections applied), rolled up to hours
-- and to Upbit's days (00:00 UTC = 09:00 KST, the strategies' session).
CREATE TABLE rm_candle_hours (
    hour_id uuid PRIMARY KEY,
    market text NOT NULL,
    hour_start timestamptz NOT NULL,
    UNIQUE (market, hour_start)
);

CREATE TABLE rm_candles_1m (
    market text NOT NULL,
    open_time timestamptz NOT NULL,
    open_time_kst timestamp GENERATED ALWAYS AS (open_time AT TIME ZONE 'Asia/Seoul') STORED,
    open numeric NOT NULL,
    high numeric NOT NULL,
    low numeric NOT NULL,
    close numeric NOT NULL,
    volume_btc numeric NOT NULL,
    value_krw numeric NOT NULL,
    is_synthetic boolean NOT NULL,
    PRIMARY KEY (market, open_time)
);

CREATE TABLE rm_candles_1h (
    market text NOT NULL,
    open_time timestamptz NOT NULL,
    open_time_kst timestamp GENERATED ALWAYS AS (open_time AT TIME ZONE 'Asia/Seoul') STORED,
    open numeric NOT NULL,
    high numeric NOT NULL,
    low numeric NOT NULL,
    close numeric NOT NULL,
    volume_btc numeric NOT NULL,
    value_krw numeric NOT NULL,
    minutes integer NOT NULL,
    PRIMARY KEY (market, open_time)
);

CREATE TABLE rm_candles_1d (LIKE rm_candles_1h INCLUDING ALL);
