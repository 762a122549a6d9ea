-- +goose Up
-- remaining is the arbiter of the sale: every win decrements it in the same
-- transaction that inserts the winner, with a condition that it stays >= 0.
CREATE TABLE activity.activities (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text          NOT NULL CHECK (char_length(name) BETWEEN 1 AND 250),
    product_id  bigint        NOT NULL CHECK (product_id > 0),
    price       numeric(12,2) NOT NULL CHECK (price >= 0),
    stock       bigint        NOT NULL CHECK (stock > 0),
    remaining   bigint        NOT NULL CHECK (remaining >= 0 AND remaining <= stock),
    start_time  timestamptz   NOT NULL,
    end_time    timestamptz   NOT NULL,
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now(),
    CHECK (end_time > start_time)
);

-- winners is both the record of who won and the outbox of orders to deliver:
-- a row with delivered_at NULL is a win the order service has not confirmed.
CREATE TABLE activity.winners (
    activity_id  bigint      NOT NULL REFERENCES activity.activities (id),
    user_id      bigint      NOT NULL CHECK (user_id > 0),
    order_id     uuid        NOT NULL UNIQUE,
    quantity     integer     NOT NULL DEFAULT 1 CHECK (quantity > 0),
    won_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    -- set when the order service refused the order for good (a conflict);
    -- such a win is kept out of the relay's retries and reported in stats.
    delivery_error text,
    PRIMARY KEY (activity_id, user_id)
);
CREATE INDEX winners_undelivered ON activity.winners (won_at) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE activity.winners;
DROP TABLE activity.activities;
