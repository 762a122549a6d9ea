#!/usr/bin/env bash
# The contract checked by tools nobody here wrote, on the running stack:
# starts PostgreSQL and the three services on ports that do not collide with
# a developer's `make run` (18503-18505, PostgreSQL on 18532 or a free one),
# then for each service fetches the served /swagger/doc.json, validates it
# with swagger-cli and Spectral (no errors allowed), and runs Dredd on it
# with .ci/dredd/hooks.js, which only seeds data and adds credentials (the
# stack's ADMIN_TOKEN and SERVICE_TOKEN; buyers are anonymous, in open buyer
# mode).
# The tools are the versions pinned in .ci/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

PRODUCT_PORT=18503 ACTIVITY_PORT=18504 ORDER_PORT=18505 PG_PORT=18532

echo "-- npm ci (swagger-cli, Spectral, Dredd, pinned)"
npm ci --prefix .ci --no-audit --no-fund --loglevel=error >/dev/null
bin=.ci/node_modules/.bin

make -s build
work=$(mktemp -d)
# The stack's credentials: the services read them from the environment
# seckill-dev passes on, and Dredd's hooks send the administrator's.
ADMIN_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
SERVICE_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export ADMIN_TOKEN SERVICE_TOKEN SECKILL_ADMIN_TOKEN=$ADMIN_TOKEN SECKILL_SERVICE_TOKEN=$SERVICE_TOKEN
bin/seckill-dev -data "$work/data" -pg-port "$PG_PORT" -ports "$PRODUCT_PORT,$ACTIVITY_PORT,$ORDER_PORT" -jaeger=false \
  >"$work/stack.log" 2>&1 &
stack=$!
cleanup() {
  kill -INT "$stack" 2>/dev/null || true
  wait "$stack" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

deadline=$((SECONDS + 180))
for port in $PRODUCT_PORT $ORDER_PORT $ACTIVITY_PORT; do
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
    if ! kill -0 "$stack" 2>/dev/null || ((SECONDS > deadline)); then
      echo "the stack did not start; its output:" >&2
      tail -50 "$work/stack.log" >&2
      exit 1
    fi
    sleep 0.5
  done
done

export SECKILL_PRODUCT_URL=http://127.0.0.1:$PRODUCT_PORT
export SECKILL_ACTIVITY_URL=http://127.0.0.1:$ACTIVITY_PORT
export SECKILL_ORDER_URL=http://127.0.0.1:$ORDER_PORT
# The product service runs first: the activity service's seeds use it.
for svc in product:$PRODUCT_PORT activity:$ACTIVITY_PORT order:$ORDER_PORT; do
  name=${svc%%:*} port=${svc##*:}
  doc="$work/$name.json"
  curl -sf "http://127.0.0.1:$port/swagger/doc.json" -o "$doc"
  echo "-- $name: swagger-cli validate"
  "$bin/swagger-cli" validate "$doc"
  echo "-- $name: spectral lint"
  "$bin/spectral" lint --ruleset .ci/spectral.yaml --fail-severity error --display-only-failures "$doc"
  echo "-- $name: dredd"
  "$bin/dredd" "$doc" "http://127.0.0.1:$port" --hookfiles .ci/dredd/hooks.js --loglevel warning --color false
done
echo "-- contract checks passed"
