-- deploy/local/shop.sql — the sample database "shop" of the local stack (deploy/local/lib.sh loads it): a few
-- hundred rows with the awkward values a backup must carry through (quotes, newlines, tabs, backslashes,
-- non-ASCII, NULLs, enums, arrays, identities, foreign keys, a view).
CREATE TABLE customers (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    email      text UNIQUE,
    note       text,
    created_at timestamptz NOT NULL
);
INSERT INTO customers (name, email, note, created_at)
SELECT CASE WHEN g % 7 = 0 THEN format('O''Connor & "Sons" #%s', g) ELSE format('Customer %s', g) END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE format('customer%s@example.com', g) END,
       CASE g % 5
           WHEN 0 THEN NULL
           WHEN 1 THEN 'likes ''single'' and "double" quotes'
           WHEN 2 THEN E'two\nlines\twith a tab'
           WHEN 3 THEN 'back\slash, ünïcödé ✓, semicolon; -- not a comment'
           ELSE ''
       END,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 hours'
FROM generate_series(1, 300) AS g;

CREATE TABLE products (
    id    integer PRIMARY KEY,
    name  text NOT NULL,
    price numeric(10, 2) NOT NULL CHECK (price >= 0),
    tags  text[]
);
INSERT INTO products
SELECT g, format('Product %s', g), round((g * 3.7)::numeric, 2),
       CASE WHEN g % 3 = 0 THEN NULL ELSE ARRAY['tag' || g % 4, 'it''s'] END
FROM generate_series(1, 25) AS g;

CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    status      order_status NOT NULL,
    comment     text,
    ordered_at  timestamptz NOT NULL
);
INSERT INTO orders (customer_id, status, comment, ordered_at)
SELECT 1 + (g * 37) % 300,
       (ARRAY['new', 'paid', 'shipped', 'cancelled']::order_status[])[1 + g % 4],
       CASE WHEN g % 3 = 0 THEN NULL ELSE format('please ring twice, it''s order %s', g) END,
       timestamptz '2024-02-01 00:00:00+00' + g * interval '90 minutes'
FROM generate_series(1, 500) AS g;

CREATE TABLE order_items (
    order_id   bigint  NOT NULL REFERENCES orders (id),
    product_id integer NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);
INSERT INTO order_items
SELECT o, 1 + (o * k) % 25, 1 + (o + k) % 5
FROM generate_series(1, 500) AS o, generate_series(1, 3) AS k
ON CONFLICT DO NOTHING;

CREATE VIEW order_totals AS
SELECT o.id AS order_id, o.customer_id, sum(i.quantity * p.price) AS total
FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
GROUP BY o.id, o.customer_id;
