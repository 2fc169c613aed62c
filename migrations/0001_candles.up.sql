-- One-minute candles of the ingest (strategies.md): UTC open time, KST wall time derived.
CREATE TABLE candles (
    market text NOT NULL,
    open_time timestamptz NOT NULL,
    -- KST wall time of the open, for session maths and display (S3.6: derived, never entered).
    open_time_kst timestamp GENERATED ALWAYS AS (open_time AT TIME ZONE 'Asia/Seoul') STORED,
    open numeric NOT NULL,
    high numeric NOT NULL,
    low numeric NOT NULL,
    close numeric NOT NULL,
    volume_btc numeric NOT NULL,
    value_krw numeric NOT NULL,
    -- true for a candle filled in for a minute without trades (open = high = low = close).
    is_synthetic boolean NOT NULL DEFAULT false,
    source text NOT NULL,
    PRIMARY KEY (market, open_time),
    CONSTRAINT candles_prices_positive CHECK (open > 0 AND high > 0 AND low > 0 AND close > 0),
    CONSTRAINT candles_high_not_below_low CHECK (high >= low),
    CONSTRAINT candles_open_close_within_range
        CHECK (open BETWEEN low AND high AND close BETWEEN low AND high),
    CONSTRAINT candles_volume_not_negative CHECK (volume_btc >= 0 AND value_krw >= 0),
    -- Truncation in UTC keeps the check immutable (independent of the session time zone).
    CONSTRAINT candles_open_time_minute_aligned
        CHECK (date_trunc('minute', open_time AT TIME ZONE 'UTC') = open_time AT TIME ZONE 'UTC')
);
