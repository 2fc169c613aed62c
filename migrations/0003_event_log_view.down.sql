DROP VIEW event_log;
