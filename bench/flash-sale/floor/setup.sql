-- The SQL floor's data (bench/flash-sale/run.sh, "sql_floor"): on a database migrated by
-- `encore migrate`, so the tables, indexes and constraints are Encore's own. :customers
-- signed-in customers, each with an open cart of three events, and one level of 32 shards
-- big enough never to sell out: the floor measures the statements, not the sell-out.
INSERT INTO users
SELECT 'u' || i, 'u' || i || '@floor.example', 'Customer ' || i, 'customer', now(), now()
FROM generate_series(1, :customers) AS i;

INSERT INTO sessions (id, token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
SELECT 's' || i, 'h' || i, 'u' || i, 'csrf' || i, now(), now(), now() + interval '1 day'
FROM generate_series(1, :customers) AS i;

INSERT INTO carts (id, user_id, status, concert_ids, updated_at)
SELECT 'cart' || i, 'u' || i, 'open', ARRAY['c1'], now()
FROM generate_series(1, :customers) AS i;

INSERT INTO open_carts SELECT 'u' || i, 'cart' || i FROM generate_series(1, :customers) AS i;

INSERT INTO es_events (event_id, stream_id, stream_type, stream_version, event_type, data, metadata)
SELECT gen_random_uuid(), 'ShoppingCart-cart' || i, 'ShoppingCart', v,
    (ARRAY['CartOpened', 'TicketsAddedToCart', 'DeliveryChosen'])[v],
    jsonb_build_object('cartId', 'cart' || i, 'userId', 'u' || i, 'concertId', 'c1',
        'ticketLevelId', 'regular', 'quantity', 2, 'unitPrice', '120.00', 'currency', 'PLN', 'at', now()),
    jsonb_build_object('correlationId', gen_random_uuid(), 'userId', 'u' || i)
FROM generate_series(1, :customers) AS i, generate_series(1, 3) AS v;

INSERT INTO availability_shards (stream_id, concert_id, level_id, shard, version, capacity)
SELECT 'AvailabilityShard-c1-regular-' || s, 'c1', 'regular', s, 0, 1000000000
FROM generate_series(0, 31) AS s;
