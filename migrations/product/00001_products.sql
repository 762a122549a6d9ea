-- +goose Up
-- inventory counts the units still available to sell or reserve; reserved
-- counts the units held for sale activities. A reservation moves units from
-- one to the other, so inventory + reserved is the product's whole stock.
CREATE TABLE product.products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text          NOT NULL CHECK (char_length(name) BETWEEN 1 AND 250),
    description text          NOT NULL DEFAULT '' CHECK (char_length(description) <= 600),
    price       numeric(12,2) NOT NULL CHECK (price >= 0),
    inventory   bigint        NOT NULL CHECK (inventory >= 0),
    reserved    bigint        NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX products_name_key ON product.products (name);

CREATE TABLE product.reservations (
    product_id  bigint      NOT NULL REFERENCES product.products (id),
    activity_id bigint      NOT NULL CHECK (activity_id > 0),
    quantity    bigint      NOT NULL CHECK (quantity > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, activity_id)
);

-- +goose Down
DROP TABLE product.reservations;
DROP TABLE product.products;
