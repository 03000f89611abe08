// Read what became of each record you wrote, with the Java kafka-clients (Maven: org.apache.kafka:kafka-clients, the
// broker's release, 4.3.1): accepted, set aside, rejected or dead-lettered, and why. The same settings as
// PublishExample.java; the topic you publish to is the argument:
//
//   javac -cp 'libs/*' ReadOutcomes.java
//   KAFKA_BOOTSTRAP_SERVERS=host:port KAFKA_SSL_CAFILE=ca.pem KAFKA_SASL_USERNAME=payments-system \
//   KAFKA_SASL_PASSWORD_FILE=payments-system.password java -cp 'libs/*:.' ReadOutcomes im.payment-attempts
//
// It reads <topic>.outcomes with your consumer group for outcomes (<principal>.outcomes, after the deployment's
// prefix), from the earliest outcome not read before, prints one line per record of yours (ids and codes only) and
// stops once it has caught up (IDLE_MS quiet after the first assignment). Each record there answers a run of your
// records of one partition: a JSON library of your choice reads it; this example needs none, so it finds the answers
// with a small scan and picks the fields it prints with patterns.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class ReadOutcomes {
    private static final long IDLE_MS = 3_000;

    private static String field(String json, String name) {
        Matcher found = Pattern.compile("\"" + name + "\"\\s*:\\s*(?:\"((?:[^\"\\\\]|\\\\.)*)\"|(-?\\d+))")
            .matcher(json);
        if (!found.find()) {
            return "-";
        }
        return found.group(1) != null ? found.group(1) : found.group(2);
    }

    // The answers of a record of outcomes: each a flat JSON object inside the "answers" array, found by a scan that
    // keeps track of strings (a detail may hold a brace).
    private static List<String> answers(String json) {
        List<String> found = new ArrayList<>();
        int at = json.indexOf('[', json.indexOf("\"answers\""));
        int depth = 0;
        int start = -1;
        boolean inString = false;
        for (int i = at + 1; i < json.length(); i++) {
            char c = json.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{') {
                if (depth++ == 0) {
                    start = i;
                }
            } else if (c == '}') {
                if (--depth == 0) {
                    found.add(json.substring(start, i + 1));
                }
            } else if (c == ']' && depth == 0) {
                break;
            }
        }
        return found;
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
        settings.put("group.id", prefix + principal + ".outcomes");
        settings.put("auto.offset.reset", "earliest");
        settings.put("enable.auto.commit", "false");
        settings.put("key.deserializer", ByteArrayDeserializer.class.getName());
        settings.put("value.deserializer", ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(settings)) {
            consumer.subscribe(List.of(prefix + args[0] + ".outcomes"));
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
                    // a run of your records of one partition, in offset order
                    String json = new String(record.value(), StandardCharsets.UTF_8);
                    String partition = field(json, "partition");
                    for (String answer : answers(json)) {
                        String detail = field(answer, "detail");
                        System.out.printf("event_id=%s outcome=%s reason=%s origin=%s:%s detail=%s%n",
                            field(answer, "event_id"), field(answer, "outcome"), field(answer, "reason_code"),
                            partition, field(answer, "offset"), "-".equals(detail) ? "" : detail);
                    }
                }
                consumer.commitSync();
            }
        }
    }
}
