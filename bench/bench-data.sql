-- Realistic benchmark data (text that compresses like real application data, not pgbench's zeros):
-- about 650 MB of plain pg_dump output. Sizes scale with :rows (default 2,000,000).
\set rows 2000000
CREATE TABLE customers (
    id bigint PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL,
    country char(2),
    created_at timestamptz NOT NULL,
    token text
);
INSERT INTO customers
SELECT g,
       'user' || g || '@' || (ARRAY['example.com','mail.test','corp.local','shop.io'])[1 + g % 4],
       initcap((ARRAY['anna','bert','carla','dimitri','eve','farid','gita','hugo','ines','jonas'])[1 + (g * 7) % 10])
         || ' ' || initcap(substr(md5(g::text), 1, 6 + g % 5)),
       (ARRAY['DE','FR','KZ','US','BR','JP','IN','NG'])[1 + (g * 13) % 8],
       timestamptz '2020-01-01' + (g % 150000) * interval '17 minutes',
       md5(random()::text)
FROM generate_series(1, :rows / 4) g;

CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    status text NOT NULL,
    amount numeric(12,2) NOT NULL,
    created_at timestamptz NOT NULL,
    note text,
    items jsonb
);
INSERT INTO orders
SELECT g,
       1 + (g * 31) % (:rows / 4),
       (ARRAY['new','paid','shipped','delivered','cancelled','refunded'])[1 + g % 6],
       round((random() * 500)::numeric, 2),
       timestamptz '2021-01-01' + g * interval '13 seconds',
       CASE WHEN g % 3 = 0 THEN NULL ELSE
         (ARRAY['leave at the door','call before delivery','gift wrap please','fragile: glass inside',
                'second floor, no lift','deliver after 6pm'])[1 + g % 6] || ' #' || substr(md5(g::text), 1, 10) END,
       jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (g % 9973), 'qty', 1 + g % 4,
                                            'price', round((random() * 100)::numeric, 2)),
                         jsonb_build_object('sku', 'SKU-' || (g % 7919), 'qty', 1, 'desc', md5((g * 3)::text)))
FROM generate_series(1, :rows) g;

CREATE TABLE events (
    id bigint,
    at timestamptz,
    kind text,
    payload text
);
INSERT INTO events
SELECT g, timestamptz '2024-01-01' + g * interval '1 second',
       (ARRAY['login','logout','view','search','add_to_cart','checkout'])[1 + g % 6],
       'session=' || md5((g / 20)::text) || ';ip=10.' || (g % 250) || '.' || (g % 199) || '.' || (g % 97)
         || ';ua=Mozilla/5.0 (X11; Linux x86_64) rv:' || (100 + g % 30) || ';q=' || substr(md5(random()::text), 1, 12)
FROM generate_series(1, :rows) g;
