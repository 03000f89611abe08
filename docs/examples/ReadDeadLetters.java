// Read your own records' dead letters with the Java kafka-clients (Maven: org.apache.kafka:kafka-clients, the
// broker's release, 4.3.1). The same settings as PublishExample.java; the topic you publish to is the argument:
//
//   javac -cp 'libs/*' ReadDeadLetters.java
//   KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
//   KAFKA_SASL_PASSWORD_FILE=payments-system.password java -cp 'libs/*:.' ReadDeadLetters im.payment-attempts
//
// It reads with your consumer group for dead letters (<principal>.dead-letters, after the deployment's prefix),
// from the earliest one not read before, prints one line per dead letter (the record's event_id, the reason, where
// it was; never its content) and stops once it has caught up (IDLE_MS quiet after the first assignment).

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class ReadDeadLetters {
    private static final long IDLE_MS = 3_000;

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header found = record.headers().lastHeader(name);
        return found == null || found.value() == null ? "?" : new String(found.value(), StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        String principal = System.getenv("KAFKA_SASL_USERNAME");
        String prefix = System.getenv().getOrDefault("TOPIC_PREFIX", "");
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
        settings.put("group.id", prefix + principal + ".dead-letters");
        settings.put("auto.offset.reset", "earliest");
        settings.put("enable.auto.commit", "false");
        settings.put("key.deserializer", ByteArrayDeserializer.class.getName());
        settings.put("value.deserializer", ByteArrayDeserializer.class.getName());
        Pattern eventId = Pattern.compile("\"event_id\"\\s*:\\s*\"([^\"]+)\"");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(settings)) {
            consumer.subscribe(List.of(prefix + args[0] + ".dlq"));
            long quietSince = -1;
            while (quietSince < 0 || System.currentTimeMillis() - quietSince < IDLE_MS) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofSeconds(1));
                if (records.isEmpty()) {
                    if (!consumer.assignment().isEmpty() && quietSince < 0) {
                        quietSince = System.currentTimeMillis();
                    }
                    continue;
                }
                quietSince = -1;
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    String value = record.value() == null ? "" : new String(record.value(), StandardCharsets.UTF_8);
                    Matcher id = eventId.matcher(value);
                    System.out.printf("%d:%d reason=%s origin=%s:%s event_id=%s detail=%s%n",
                        record.partition(), record.offset(), header(record, "dlq.reason"),
                        header(record, "dlq.origin.partition"), header(record, "dlq.origin.offset"),
                        id.find() ? id.group(1) : "-", header(record, "dlq.detail"));
                }
                consumer.commitSync();
            }
        }
    }
}
