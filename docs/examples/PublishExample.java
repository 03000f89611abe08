// Publish one upstream event with the Java kafka-clients of the broker's release (Maven:
// org.apache.kafka:kafka-clients:4.3.1): the same settings and envelope as publish_with_aiokafka.py. With the
// kafka-clients jar and its dependencies on the class path:
//
//   javac -cp 'libs/*' PublishExample.java
//   KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
//   KAFKA_SASL_PASSWORD_FILE=payments-system.password java -cp 'libs/*:.' PublishExample payment-attempt-one-off-failed.json
//
// The body file is one JSON object; the envelope goes before its fields, and a value "now" becomes the current
// instant (no JSON library is needed for that, so none is used here).

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Properties;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class PublishExample {
    public static void main(String[] args) throws Exception {
        String body = Files.readString(Path.of(args[0])).trim();
        boolean payment = body.contains("\"PaymentAttempted\"");
        String topic = payment ? "im.payment-attempts" : "msp.approvals";
        String keyField = payment ? "expense_id" : "msp_id";
        String now = Instant.now().toString();
        String principal = System.getenv("KAFKA_SASL_USERNAME");
        String envelope = String.format(
            "{\"event_id\": \"%s\", \"occurred_at\": \"%s\", \"correlation_id\": \"%s\", \"producer\": \"%s\", ",
            UUID.randomUUID(), now, UUID.randomUUID(), principal);
        String event = envelope + body.substring(1).replace(": \"now\"", ": \"" + now + "\"");
        Matcher key = Pattern.compile("\"" + keyField + "\"\\s*:\\s*\"([^\"]+)\"").matcher(body);
        if (!key.find()) {
            throw new IllegalArgumentException("no " + keyField + " in " + args[0]);
        }
        String password = Files.readString(Path.of(System.getenv("KAFKA_SASL_PASSWORD_FILE"))).trim();

        Properties settings = new Properties();
        settings.put("bootstrap.servers", System.getenv("KAFKA_BOOTSTRAP_SERVERS"));
        settings.put("security.protocol", "SASL_SSL");
        settings.put("ssl.truststore.type", "PEM");
        settings.put("ssl.truststore.location", System.getenv("KAFKA_SSL_CAFILE"));
        settings.put("sasl.mechanism", "SCRAM-SHA-512");
        settings.put("sasl.jaas.config", String.format(
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"%s\" password=\"%s\";",
            principal, password));
        settings.put("acks", "all");
        settings.put("enable.idempotence", "true");
        settings.put("delivery.timeout.ms", "180000");
        settings.put("key.serializer", ByteArraySerializer.class.getName());
        settings.put("value.serializer", ByteArraySerializer.class.getName());

        String prefix = System.getenv().getOrDefault("TOPIC_PREFIX", "");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(settings)) {
            ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(
                prefix + topic, key.group(1).getBytes(StandardCharsets.UTF_8), event.getBytes(StandardCharsets.UTF_8));
            record.headers().add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));
            RecordMetadata sent = producer.send(record).get();
            System.out.printf("%s -> %s[%d]@%d%n", key.group(1), sent.topic(), sent.partition(), sent.offset());
        }
    }
}
