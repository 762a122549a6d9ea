#!/bin/sh
# Patroni runs this once, on the node that bootstraps the cluster, with a
# superuser connection string as $1: the role and database the services use.
set -eu
: "${SECKILL_DB_PASSWORD:?SECKILL_DB_PASSWORD must be set for post_init}"
psql "$1" -v ON_ERROR_STOP=1 -v pw="$SECKILL_DB_PASSWORD" <<'SQL'
CREATE ROLE seckill LOGIN PASSWORD :'pw';
CREATE DATABASE seckill OWNER seckill;
SQL
