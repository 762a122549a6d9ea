-- +goose Up
-- commit_claims decides a batch of purchase claims in one statement, so that
-- a group commit is one round trip and the activity's row lock is held only
-- while PostgreSQL works: never across a network round trip or while the
-- service's process waits for a CPU. Every rule of the sale is here:
--
--   * The activity row is locked first: commits of one activity are
--     serialised across every instance of the service, and the winners read
--     after the lock see every win committed before.
--   * The sale window is compared with the database's clock after the lock,
--     so an edit of start_time or end_time committed on any instance is seen.
--     Outside the window nothing is written: not_started or ended.
--   * A user who won before answers already_won with the stored order id, or
--     forfeited once that order was cancelled or expired (the unique
--     (activity_id, user_id) key keeps them from winning again).
--   * The others win in the batch's order while stock remains (a user twice
--     in one batch wins once, the second claim answering already_won), and
--     get sold_out after.
--   * The stock is decremented by a conditional update and the winners are
--     inserted from that update's row: never one without the other.
--
-- It returns one row per claim, in the order of p_users, with the stock
-- remaining after the commit; no row at all when the activity does not
-- exist. The transaction is the statement's: its caller commits by sending
-- nothing else.
-- +goose StatementBegin
CREATE FUNCTION activity.commit_claims(p_id bigint, p_users bigint[], p_orders uuid[])
RETURNS TABLE (status text, order_id uuid, remaining bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_remaining bigint;
    v_closed    text;
BEGIN
    SELECT a.remaining INTO v_remaining FROM activity.activities a WHERE a.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A statement of its own, run once the lock is held: clock_timestamp()
    -- is the time it runs, after any edit that committed before the lock.
    SELECT CASE WHEN clock_timestamp() < a.start_time THEN 'not_started'
                WHEN clock_timestamp() >= a.end_time THEN 'ended' END
      INTO v_closed FROM activity.activities a WHERE a.id = p_id;

    RETURN QUERY
    WITH claims AS (
        SELECT t.u, t.o, t.i FROM unnest(p_users, p_orders) WITH ORDINALITY AS t(u, o, i)
    ),
    -- One primary-key probe per user: a plain join lets the planner scan
    -- every winner of a new activity, whose statistics say it has none.
    prior AS (
        SELECT d.u, w.held FROM (SELECT DISTINCT c.u FROM claims c) d
        CROSS JOIN LATERAL (
            SELECT CASE WHEN x.settled IN ('cancelled', 'expired')
                        THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE x.order_id END AS held
            FROM activity.winners x WHERE x.activity_id = p_id AND x.user_id = d.u LIMIT 1) w
    ),
    -- Each new user's first claim, then the earliest of them while stock lasts.
    firsts AS (
        SELECT DISTINCT ON (c.u) c.u, c.o, c.i FROM claims c
        WHERE v_closed IS NULL AND NOT EXISTS (SELECT 1 FROM prior p WHERE p.u = c.u)
        ORDER BY c.u, c.i
    ),
    win AS (
        SELECT f.u, f.o FROM firsts f ORDER BY f.i LIMIT v_remaining
    ),
    sold AS (
        UPDATE activity.activities a SET remaining = a.remaining - n.k, updated_at = now()
        FROM (SELECT count(*) AS k FROM win) n
        WHERE a.id = p_id AND n.k > 0 AND a.remaining >= n.k
        RETURNING a.id
    ),
    ins AS (
        INSERT INTO activity.winners (activity_id, user_id, order_id)
        SELECT sold.id, win.u, win.o FROM sold, win
        RETURNING activity.winners.user_id AS u, activity.winners.order_id AS o
    ),
    left_after AS (
        SELECT v_remaining - count(*) AS r FROM ins
    )
    SELECT CASE WHEN p.u IS NOT NULL THEN
                    CASE WHEN p.held = '00000000-0000-0000-0000-000000000000'::uuid THEN 'forfeited' ELSE 'already_won' END
                WHEN v_closed IS NOT NULL THEN v_closed
                WHEN ins.u IS NULL THEN 'sold_out'
                WHEN ins.o = c.o THEN 'won'
                ELSE 'already_won' END,
           COALESCE(p.held, ins.o),
           left_after.r
    FROM claims c
    CROSS JOIN left_after
    LEFT JOIN prior p ON p.u = c.u
    LEFT JOIN ins ON ins.u = c.u
    ORDER BY c.i;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION activity.commit_claims(bigint, bigint[], uuid[]);
