-- The candle table becomes a TimescaleDB hypertable where the extension is installed
-- (production); on plain PostgreSQL (the embedded default) this step changes nothing.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('candles', 'open_time', migrate_data => true,
                                  if_not_exists => true);
    END IF;
END
$$;
