-- Who holds each trading run (issue 18 #8): one process at a time, through a session advisory
-- lock; this row names the holder for a process refused, and its token fences the holder's
-- sends (a holder whose token is no longer the row's stops before sending anything more).
CREATE TABLE run_leases (
    run_id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    since timestamptz NOT NULL,
    token bigint NOT NULL
);
