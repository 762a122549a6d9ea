-- +goose Up
-- sold counts the units paid for. A unit is in exactly one of inventory
-- (free), reserved (held by an activity: unsold, or won and not yet paid)
-- and sold, so only an explicit inventory edit changes their sum.
--
-- An activity settles its reservation with running totals: sold (its paid
-- orders) and released (units it gave back: unsold when it ended, or
-- returned by cancelled and expired orders after that). Totals only grow,
-- so a repeated or late report changes nothing.
ALTER TABLE product.products ADD COLUMN sold bigint NOT NULL DEFAULT 0 CHECK (sold >= 0);
ALTER TABLE product.reservations ADD COLUMN sold bigint NOT NULL DEFAULT 0 CHECK (sold >= 0);
ALTER TABLE product.reservations ADD COLUMN released bigint NOT NULL DEFAULT 0 CHECK (released >= 0);
ALTER TABLE product.reservations ADD CONSTRAINT reservations_settled_within_quantity
    CHECK (sold + released <= quantity);

-- +goose Down
ALTER TABLE product.reservations DROP CONSTRAINT reservations_settled_within_quantity;
ALTER TABLE product.reservations DROP COLUMN released;
ALTER TABLE product.reservations DROP COLUMN sold;
ALTER TABLE product.products DROP COLUMN sold;
