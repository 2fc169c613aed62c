-- The equity curve's book (issue 6): one row per event that changes a strategy's cash or the
-- BTC it holds, keyed by the event's log position, at the event's domain time. Cash rows come
-- from the cash ledger (capital allocated, fill settled) and name their portfolio and strategy;
-- BTC rows come from position changes and name their position, whose account, strategy and
-- market are in rm_positions (a position change does not carry them, and a projection reads no
-- table). The curve is marked to market when it is queried, with the candle read model's closes.
CREATE TABLE rm_book_changes (
    position bigint PRIMARY KEY,
    portfolio_id uuid,
    strategy_id text,
    position_id uuid,
    at_utc timestamptz NOT NULL,
    at_kst timestamp GENERATED ALWAYS AS (at_utc AT TIME ZONE 'Asia/Seoul') STORED,
    cash_delta_krw numeric NOT NULL DEFAULT 0,
    qty_delta_btc numeric NOT NULL DEFAULT 0,
    CHECK (
        (portfolio_id IS NOT NULL AND strategy_id IS NOT NULL AND position_id IS NULL)
        OR (portfolio_id IS NULL AND strategy_id IS NULL AND position_id IS NOT NULL)
    )
);
CREATE INDEX rm_book_changes_cash ON rm_book_changes (portfolio_id, strategy_id, at_utc, position)
    WHERE portfolio_id IS NOT NULL;
CREATE INDEX rm_book_changes_btc ON rm_book_changes (position_id, at_utc, position)
    WHERE position_id IS NOT NULL;
