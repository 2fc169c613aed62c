-- Reconciliations of trading runs with their exchanges (issue 7): one row per reconciliation
-- and one per difference it found. Rebuilt from the log like every read model.
CREATE TABLE rm_reconciliations (
    reconciliation_id uuid PRIMARY KEY,
    run_id text NOT NULL,
    sequence integer NOT NULL,
    trigger text NOT NULL,
    exchange text NOT NULL,
    market text NOT NULL,
    started_at timestamptz NOT NULL,
    started_at_kst timestamp GENERATED ALWAYS AS (started_at AT TIME ZONE 'Asia/Seoul') STORED,
    is_completed boolean NOT NULL DEFAULT false,
    differences integer NOT NULL DEFAULT 0,
    unexplained integer NOT NULL DEFAULT 0,
    krw_free numeric,
    krw_locked numeric,
    base_free numeric,
    base_locked numeric,
    ledger_krw numeric,
    ledger_base numeric,
    unrecorded_krw numeric,
    unrecorded_base numeric,
    baseline_sequence integer,
    is_halting boolean NOT NULL DEFAULT false,
    is_acknowledged boolean NOT NULL DEFAULT false,
    acknowledged_by text,
    acknowledgement text,
    has_resumed boolean,
    acknowledged_at timestamptz,
    position bigint NOT NULL UNIQUE
);
CREATE INDEX rm_reconciliations_run ON rm_reconciliations (run_id, sequence);

CREATE TABLE rm_reconciliation_differences (
    reconciliation_id uuid NOT NULL,
    position bigint NOT NULL,
    kind text NOT NULL,
    order_id text,
    exchange_says text NOT NULL,
    log_says text NOT NULL,
    is_explained boolean NOT NULL,
    explanation text NOT NULL,
    PRIMARY KEY (reconciliation_id, position)
);
