-- +goose Up
-- An order is created -> paid | cancelled | expired. pay_by is its payment
-- deadline; the sweeper expires every created order past it.
--
-- A cancelled or expired order gives its unit back to its activity, and a
-- paid one counts as sold there: settled_reported_at is NULL while the
-- activity service has not confirmed it knows the order's final status.
-- The orders table is thus the outbox of settlements, as the activity's
-- winners table is the outbox of orders.
ALTER TABLE orders.orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders.orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('created', 'paid', 'cancelled', 'expired'));
ALTER TABLE orders.orders ADD COLUMN pay_by timestamptz;
UPDATE orders.orders SET pay_by = created_at + interval '15 minutes';
ALTER TABLE orders.orders ALTER COLUMN pay_by SET NOT NULL;
ALTER TABLE orders.orders ADD COLUMN settled_reported_at timestamptz;
-- Orders paid before this migration are reported like the others, so the
-- activity and product services learn what they sold.
-- settle_error records why the activity service refused a settlement for
-- good; such an order leaves the outbox and is reported by the logs.
ALTER TABLE orders.orders ADD COLUMN settle_error text;

-- The sweeper's probe: created orders by deadline.
CREATE INDEX orders_due ON orders.orders (pay_by) WHERE status = 'created';
-- The settlement relay's probe: settled orders not yet reported.
CREATE INDEX orders_unreported ON orders.orders (updated_at)
    WHERE status <> 'created' AND settled_reported_at IS NULL AND settle_error IS NULL;

-- +goose Down
DROP INDEX orders.orders_unreported;
DROP INDEX orders.orders_due;
ALTER TABLE orders.orders DROP COLUMN settle_error;
ALTER TABLE orders.orders DROP COLUMN settled_reported_at;
ALTER TABLE orders.orders DROP COLUMN pay_by;
UPDATE orders.orders SET status = 'cancelled' WHERE status = 'expired';
ALTER TABLE orders.orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders.orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('created', 'paid', 'cancelled'));
