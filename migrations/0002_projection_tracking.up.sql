-- The last log position each read-model projector has applied, updated in the same
-- transaction as the read model itself (guide §5.3), so a restart resumes exactly there.
CREATE TABLE projection_tracking (
    projection text PRIMARY KEY,
    last_position bigint NOT NULL CHECK (last_position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
