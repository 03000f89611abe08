#!/bin/sh
# Writes server.properties from KAFKA_* variables, formats the storage once, then runs the broker.
set -eu
conf=/opt/kafka/config/server.properties
cp=/opt/kafka/libs/*
: > "$conf"
env | grep '^KAFKA_' | while IFS='=' read -r name value; do
  case "$name" in KAFKA_HEAP_OPTS|KAFKA_CLUSTER_ID) continue ;; esac
  printf '%s=%s\n' "$(printf '%s' "${name#KAFKA_}" | tr 'A-Z_' 'a-z.')" "$value" >> "$conf"
done
data=$(sed -n 's/^log\.dirs=//p' "$conf")
mkdir -p "$data"
if [ ! -f "$data/meta.properties" ]; then
  # a KRaft cluster id never starting with "-" (StorageTool would read it as an option)
  id=${KAFKA_CLUSTER_ID:-$(java -cp "$cp" kafka.tools.StorageTool random-uuid | tr -d '\n')}
  case "$id" in -*) id="A${id#?}" ;; esac
  java -cp "$cp" kafka.tools.StorageTool format -t "$id" -c "$conf" > /dev/null
fi
# shellcheck disable=SC2086 - the heap options are several words
exec java $KAFKA_HEAP_OPTS -XX:+UseSerialGC -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.xml \
  -cp "$cp" kafka.Kafka "$conf"
