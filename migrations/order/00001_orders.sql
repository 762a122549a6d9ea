-- +goose Up
-- id is chosen by the activity service when the user wins, so delivering the
-- same win twice finds the same row: the receiver is idempotent on it.
CREATE TABLE orders.orders (
    id          uuid          PRIMARY KEY,
    user_id     bigint        NOT NULL CHECK (user_id > 0),
    activity_id bigint        NOT NULL CHECK (activity_id > 0),
    product_id  bigint        NOT NULL CHECK (product_id > 0),
    quantity    integer       NOT NULL CHECK (quantity > 0),
    price       numeric(12,2) NOT NULL CHECK (price >= 0),
    status      text          NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'paid', 'cancelled')),
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (user_id, activity_id)
);
CREATE INDEX orders_activity_id ON orders.orders (activity_id);

-- +goose Down
DROP TABLE orders.orders;
