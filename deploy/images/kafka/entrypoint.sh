#!/bin/sh
# Writes server.properties from KAFKA_* variables, formats the storage once, then runs the broker.
#
# KAFKA_SECRETS_DIR (a mounted, read-only directory: ca.pem, broker.pem, users/<principal>.password, as
# `python -m servicekit.tools.localsecrets` makes it) secures the broker: TLS on every listener with that key store,
# SASL/SCRAM-SHA-512 on the SASL ones, a client certificate on the controller listener, the users created when
# the storage is formatted, and an authoriser that denies whatever no ACL allows (admin is the super user).
set -eu
conf=/opt/kafka/config/server.properties
cp=/opt/kafka/libs/*
umask 077  # the properties hold the admin's password once secured
: > "$conf"
env | grep '^KAFKA_' | while IFS='=' read -r name value; do
  case "$name" in KAFKA_HEAP_OPTS|KAFKA_CLUSTER_ID|KAFKA_SECRETS_DIR) continue ;; esac
  printf '%s=%s\n' "$(printf '%s' "${name#KAFKA_}" | tr 'A-Z_' 'a-z.')" "$value" >> "$conf"
done
secrets=${KAFKA_SECRETS_DIR:-}
if [ -n "$secrets" ]; then
  admin=$(cat "$secrets/users/admin.password")
  controller=$(printf '%s' "${KAFKA_CONTROLLER_LISTENER_NAMES:-CONTROLLER}" | tr 'A-Z' 'a-z')
  {
    echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
    echo "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512"
    echo "ssl.keystore.type=PEM"
    echo "ssl.keystore.location=$secrets/broker.pem"
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$secrets/ca.pem"
    echo "listener.name.$controller.ssl.client.auth=required"
    echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    echo "allow.everyone.if.no.acl.found=false"
    echo "super.users=User:admin;User:CN=broker"
    for pair in $(printf '%s' "${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP:-}" | tr ',' ' '); do
      case "${pair#*:}" in
        SASL_*) printf 'listener.name.%s.scram-sha-512.sasl.jaas.config=%s required username="admin" password="%s";\n' \
                  "$(printf '%s' "${pair%%:*}" | tr 'A-Z' 'a-z')" org.apache.kafka.common.security.scram.ScramLoginModule \
                  "$admin" ;;
      esac
    done
  } >> "$conf"
fi
data=$(sed -n 's/^log\.dirs=//p' "$conf")
mkdir -p "$data"
if [ ! -f "$data/meta.properties" ]; then
  # a KRaft cluster id never starting with "-" (StorageTool would read it as an option)
  id=${KAFKA_CLUSTER_ID:-$(java -cp "$cp" kafka.tools.StorageTool random-uuid | tr -d '\n')}
  case "$id" in -*) id="A${id#?}" ;; esac
  # StorageTool's whole argument list, the users' passwords included, goes to the JVM in an argument file (umask
  # 077: its owner's only), never on a command line, which every process can read in /proc; printf is the
  # shell's own, so no process carries a password either.
  args=$(mktemp)
  printf '"%s"\n' kafka.tools.StorageTool format -t "$id" -c "$conf" > "$args"
  if [ -n "$secrets" ]; then
    for file in "$secrets"/users/*.password; do
      name=${file##*/}
      printf '"--add-scram"\n"SCRAM-SHA-512=[name=%s,password=%s]"\n' "${name%.password}" "$(cat "$file")" >> "$args"
    done
  fi
  java -cp "$cp" "@$args" > /dev/null
  rm -f "$args"
fi
# shellcheck disable=SC2086 - the heap options are several words
exec java $KAFKA_HEAP_OPTS -XX:+UseSerialGC -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.xml \
  -cp "$cp" kafka.Kafka "$conf"
