-- +goose Up
-- commit_claims' main statement is planned once per connection and reused
-- (a generic plan). Left to choose, PostgreSQL plans it afresh for every
-- call of a small batch (a custom plan), which cost three times the
-- execution: 0.41 ms against 0.13 ms for one claim, measured with pgbench.
-- The statement's plan does not depend on its parameters' values: one
-- primary-key probe per claim, one row updated, the claims inserted.
ALTER FUNCTION activity.commit_claims(bigint, bigint[], uuid[]) SET plan_cache_mode = force_generic_plan;

-- +goose Down
ALTER FUNCTION activity.commit_claims(bigint, bigint[], uuid[]) RESET plan_cache_mode;
