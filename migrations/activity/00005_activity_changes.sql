-- +goose Up
-- Every change an activity instance must act on is published on the channel
-- seckill_activity, from the transaction that makes it, so it is sent only
-- if that transaction commits, and sent whichever path wrote it: an edit or
-- a delete (Catalog), units returned (Settlements.Apply), the last unit sold
-- (commit_claims), the end of a sale (closeEnded), an operator's statement.
-- Each instance LISTENs and drops the activity's admission gate, so the next
-- request rebuilds it from the database (changes.go).
--
-- The payload is {"id": <activity id>, "kind": "<kind>"}:
--   edited    the window, stock or product changed
--   deleted   the row is gone
--   returned  units came back on sale (a cancelled or expired order)
--   sold_out  the last unit was sold
--   closed    the sale ended and its unsold units went back to the product
--
-- The trigger's WHEN clause keeps the purchases' path cheap: a commit that
-- does not sell the last unit matches none of it, and the function is not
-- called. Nothing here is built from text: pg_notify takes the channel and
-- the payload as values.
-- +goose StatementBegin
CREATE FUNCTION activity.notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_id   bigint;
    v_kind text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_id := OLD.id;
        v_kind := 'deleted';
    ELSE
        v_id := NEW.id;
        v_kind := CASE
            WHEN OLD.start_time IS DISTINCT FROM NEW.start_time OR OLD.end_time IS DISTINCT FROM NEW.end_time
                OR OLD.stock <> NEW.stock OR OLD.product_id <> NEW.product_id THEN 'edited'
            WHEN OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL THEN 'closed'
            WHEN NEW.remaining > OLD.remaining THEN 'returned'
            ELSE 'sold_out' END;
    END IF;
    PERFORM pg_notify('seckill_activity', json_build_object('id', v_id, 'kind', v_kind)::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER activities_changed AFTER UPDATE ON activity.activities FOR EACH ROW
    WHEN (OLD.start_time IS DISTINCT FROM NEW.start_time OR OLD.end_time IS DISTINCT FROM NEW.end_time
        OR OLD.stock <> NEW.stock OR OLD.product_id <> NEW.product_id
        OR (OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL)
        OR NEW.remaining > OLD.remaining OR (NEW.remaining = 0 AND OLD.remaining > 0))
    EXECUTE FUNCTION activity.notify_change();

CREATE TRIGGER activities_deleted AFTER DELETE ON activity.activities FOR EACH ROW
    EXECUTE FUNCTION activity.notify_change();

-- +goose Down
DROP TRIGGER activities_deleted ON activity.activities;
DROP TRIGGER activities_changed ON activity.activities;
DROP FUNCTION activity.notify_change();
