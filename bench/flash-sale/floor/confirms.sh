#!/usr/bin/env bash
# Prints the pgbench script of the SQL floor (bench/flash-sale/run.sh, "sql_floor"): one
# transaction of pgbench is a batch of $1 confirmations, with the statements Encore's
# confirm runs for them, in the leanest form they could take:
#   per confirmation, outside the transaction (as the pool runs them): the session's lookup
#   and the open cart's events;
#   per batch, one transaction: a shard locked with FOR UPDATE SKIP LOCKED from a random
#   start, one INSERT of the shard's TicketsHeld and the ReservationHeld of every
#   confirmation, one of their carts' CartConfirmed, then per confirmation the inline read
#   models (the shard row, the reservation, the cart, its open_carts row), and the commit.
# Events carry JSON of the real events' size. No HTTP, no pool, no JSON coding, no async
# projections and no refusals: the statements alone, driven by pgbench's C client.
# Needs -D customers=N. Values come as parameters (pgbench -M prepared), hence the casts.
set -euo pipefail
batch=${1:?batch size}
meta="'{\"correlationId\": \"0a8f4a52-0c2b-4a7e-9d55-0fd3d0b6a111\", \"userId\": \"u1\"}'"
echo '\set start random(0, 31)'
for ((k = 1; k <= batch; k++)); do
    echo "\\set u$k random(1, :customers)"
    echo "SELECT s.id, s.csrf_token, s.last_seen_at, u.id AS user_id, u.email, u.name, u.role" \
        "FROM sessions s JOIN users u ON u.id = s.user_id" \
        "WHERE s.token_hash = 'h' || :u$k::text AND s.expires_at > now();"
    echo "SELECT e.stream_version, e.event_type, e.data, e.metadata FROM open_carts o" \
        "JOIN es_events e ON e.stream_id = 'ShoppingCart-' || o.cart_id" \
        "WHERE o.user_id = 'u' || :u$k::text ORDER BY e.stream_version;"
done
echo 'BEGIN;'
echo "SELECT stream_id, shard, version FROM availability_shards" \
    "WHERE concert_id = 'c1' AND level_id = 'regular' AND NOT closed" \
    "ORDER BY (shard - :start::int + 32) % 32 LIMIT 1 FOR UPDATE SKIP LOCKED \\gset"
rows=()
for ((k = 1; k <= batch; k++)); do
    rows+=("(gen_random_uuid(), :stream_id::text, 'AvailabilityShard', :version::bigint + $k, 'TicketsHeld',
  jsonb_build_object('reservationId', 'r' || :u$k::text || '-' || random()::text, 'quantity', 2), $meta)")
    rows+=("(gen_random_uuid(), 'Reservation-' || gen_random_uuid(), 'Reservation', 1, 'ReservationHeld',
  jsonb_build_object('reservationId', gen_random_uuid(), 'checkoutId', gen_random_uuid(), 'userId', 'u' || :u$k::text,
    'concertId', 'c1', 'heldAt', now(), 'expiresAt', now() + interval '15 minutes',
    'items', jsonb_build_array(jsonb_build_object('ticketLevelId', 'regular', 'quantity', 2, 'unitPrice', '120.00',
      'currency', 'PLN', 'shards', jsonb_build_array(jsonb_build_object('shard', :shard::int, 'quantity', 2))))), $meta)")
done
insert="INSERT INTO es_events AS e (event_id, stream_id, stream_type, stream_version, event_type, data, metadata) VALUES"
(IFS=,; echo "$insert ${rows[*]} ON CONFLICT DO NOTHING RETURNING global_position;")
rows=()
for ((k = 1; k <= batch; k++)); do
    rows+=("(gen_random_uuid(), 'ShoppingCart-' || gen_random_uuid(), 'ShoppingCart', 4, 'CartConfirmed',
  jsonb_build_object('cartId', 'cart' || :u$k::text, 'checkoutId', gen_random_uuid(), 'at', now()), $meta)")
done
(IFS=,; echo "$insert ${rows[*]} ON CONFLICT DO NOTHING RETURNING global_position;")
for ((k = 1; k <= batch; k++)); do
    echo "UPDATE availability_shards SET held = held + 2, version = :version::bigint + $k WHERE stream_id = :stream_id::text;"
    echo "INSERT INTO reservations (id, checkout_id, user_id, concert_id, status, items, held_at, expires_at, updated_at)" \
        "VALUES (gen_random_uuid()::text, gen_random_uuid()::text, 'u' || :u$k::text, 'c1', 'held'," \
        "'[{\"ticketLevelId\": \"regular\", \"quantity\": 2}]', now(), now() + interval '15 minutes', now());"
    echo "UPDATE carts SET status = 'open', updated_at = now() WHERE id = 'cart' || :u$k::text;"
    echo "DELETE FROM open_carts WHERE user_id = 'u' || :u$k::text AND cart_id = '-';"
done
echo 'COMMIT;'
