-- A JSON view over the event table of the eventsourcing library (`ledger_events`, created by
-- the library with CREATE_TABLE=y before migrations run). It decodes `state` as UTF-8 JSON,
-- so it is valid only while no compressor or cipher is configured (guide §1.4).
CREATE VIEW event_log AS
SELECT
    notification_id AS position,
    topic AS bus_name,
    originator_id,
    originator_version,
    convert_from(state, 'UTF8')::jsonb AS payload
FROM ledger_events;
