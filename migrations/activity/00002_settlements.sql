-- +goose Up
-- What happens to a unit after it is won. The order service reports each
-- order's final status once it has one (an outbox on its side); settled
-- records it on the win, exactly once: the receiver writes it only where it
-- is still NULL, in the transaction that moves the counts below.
ALTER TABLE activity.winners ADD COLUMN settled text CHECK (settled IN ('paid', 'cancelled', 'expired'));
ALTER TABLE activity.winners ADD COLUMN settled_at timestamptz;

-- paid and returned count the units of settled wins; a returned unit goes
-- back to remaining while the sale runs (on sale again), and to released
-- after it closed. closed_at is set when the activity's end gave its unsold
-- units back: released += remaining, remaining = 0, once. So
-- stock = remaining + (units held by created or paid orders) + released.
--
-- The product service learns paid and released as running totals:
-- product_version grows with every change of them, product_synced is the
-- version it confirmed.
ALTER TABLE activity.activities
    ADD COLUMN paid            bigint NOT NULL DEFAULT 0 CHECK (paid >= 0),
    ADD COLUMN returned        bigint NOT NULL DEFAULT 0 CHECK (returned >= 0),
    ADD COLUMN released        bigint NOT NULL DEFAULT 0 CHECK (released >= 0),
    ADD COLUMN closed_at       timestamptz,
    ADD COLUMN product_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN product_synced  bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT activities_units_within_stock CHECK (remaining + released <= stock AND paid + released <= stock);

-- The closer's probe: activities whose end has not yet been processed.
CREATE INDEX activities_open ON activity.activities (end_time) WHERE closed_at IS NULL;
-- The product sync's probe.
CREATE INDEX activities_unsynced ON activity.activities (id) WHERE product_version > product_synced;

-- +goose Down
DROP INDEX activity.activities_unsynced;
DROP INDEX activity.activities_open;
ALTER TABLE activity.activities
    DROP CONSTRAINT activities_units_within_stock,
    DROP COLUMN product_synced,
    DROP COLUMN product_version,
    DROP COLUMN closed_at,
    DROP COLUMN released,
    DROP COLUMN returned,
    DROP COLUMN paid;
ALTER TABLE activity.winners DROP COLUMN settled_at;
ALTER TABLE activity.winners DROP COLUMN settled;
