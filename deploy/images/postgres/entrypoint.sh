#!/bin/sh
# PostgreSQL for the compose stack. Starts as root only to read the superuser's password from a mounted
# secret (POSTGRES_PASSWORD_FILE, as the public postgres image reads it), then runs as postgres. Every TCP
# connection needs a password (SCRAM); nothing is trusted.
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD_FILE:?the superuser password file (a mounted secret) is required}"
  pw=$(mktemp)
  cat "$POSTGRES_PASSWORD_FILE" > "$pw"
  chown postgres "$pw"
  as_postgres "$bin/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 --pwfile="$pw" \
    > /dev/null
  rm -f "$pw"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \
  "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
