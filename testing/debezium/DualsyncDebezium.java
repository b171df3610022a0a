// Runs one real Debezium connector (the embedded engine of Debezium 3.6) and writes its records
// into Kafka exactly as a Kafka Connect worker would: the connector's SMTs applied by the engine,
// keys, values and headers converted by the converters the connector configuration names
// (JsonConverter, SimpleHeaderConverter by default), the destination topic created with one
// partition when missing, and the source offsets stored only after the producer has the
// records (at-least-once, as Connect).
//
//   java -cp "<debezium libs>/*:<classes>" DualsyncDebezium CONFIG.json [key=value ...]
//
// CONFIG.json is a Kafka Connect connector registration ({"name":…, "config":{…}}), the files in
// debezium/. The key=value arguments override or add connector settings; three are the runner's
// own: kafka.bootstrap.servers (where records go), runner.state.dir (offsets and schema history
// files) and runner.ready.file (touched once the engine has started); producer.* settings go to
// the Kafka producer (as a Connect worker's producer.* settings do).
//
// Used by testing/debezium.sh; see there.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.debezium.embedded.Connect;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.Converter;
import org.apache.kafka.connect.storage.HeaderConverter;

public final class DualsyncDebezium {
    private static final String BROKERS = "kafka.bootstrap.servers";
    private static final String STATE = "runner.state.dir";
    private static final String READY = "runner.ready.file";

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: DualsyncDebezium CONFIG.json [key=value ...]");
            System.exit(2);
        }
        Map<String, String> config = connectorConfig(Files.readString(Path.of(args[0])));
        for (int i = 1; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq < 1) {
                System.err.println("debezium runner: not key=value: " + args[i]);
                System.exit(2);
            }
            config.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        String brokers = required(config, BROKERS);
        Path state = Path.of(required(config, STATE));
        Files.createDirectories(state);
        String ready = config.remove(READY);
        config.remove(BROKERS);
        config.remove(STATE);
        Map<String, String> producerSettings = sub(config, "producer.");
        producerSettings.keySet().forEach(k -> config.remove("producer." + k));

        Properties engine = new Properties();
        engine.putAll(config);
        engine.put("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
        engine.put("offset.storage.file.filename", state.resolve("offsets.dat").toString());
        engine.put("offset.flush.interval.ms", "0");
        // The schema history is a file beside the offsets (a Connect worker would use the Kafka
        // topic the configuration names; the file keeps the runner independent of the broker's
        // topic-configuration support).
        engine.put("schema.history.internal", "io.debezium.storage.file.history.FileSchemaHistory");
        engine.put("schema.history.internal.file.filename", state.resolve("schema-history.dat").toString());

        Converter keys = converter(config, "key.converter", true);
        Converter values = converter(config, "value.converter", false);
        HeaderConverter headers = headerConverter(config);

        Properties producerConfig = new Properties();
        producerConfig.put("bootstrap.servers", brokers);
        producerConfig.put("acks", "all");
        producerConfig.put("enable.idempotence", "false");
        producerConfig.put("max.in.flight.requests.per.connection", "1");
        producerConfig.put("linger.ms", "0");
        producerConfig.put("key.serializer", ByteArraySerializer.class.getName());
        producerConfig.put("value.serializer", ByteArraySerializer.class.getName());
        producerConfig.putAll(producerSettings);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig);
        Properties adminConfig = new Properties();
        adminConfig.put("bootstrap.servers", brokers);
        Admin admin = Admin.create(adminConfig);
        Set<String> known = new HashSet<>();

        CountDownLatch done = new CountDownLatch(1);
        int[] exit = {0};
        DebeziumEngine<RecordChangeEvent<SourceRecord>> running = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
            .using(engine)
            .using(new DebeziumEngine.ConnectorCallback() {
                @Override
                public void taskStarted() {
                    touch(ready);
                }
            })
            .using((success, message, error) -> {
                if (!success) {
                    System.err.println("debezium runner: the engine stopped: " + message);
                    if (error != null) {
                        error.printStackTrace();
                    }
                    exit[0] = 1;
                }
                done.countDown();
            })
            .notifying((batch, committer) -> {
                List<Future<RecordMetadata>> sent = new java.util.ArrayList<>();
                for (RecordChangeEvent<SourceRecord> event : batch) {
                    SourceRecord record = event.record();
                    String topic = record.topic();
                    if (known.add(topic)) {
                        ensureTopic(admin, topic);
                    }
                    RecordHeaders kafkaHeaders = new RecordHeaders();
                    for (Header header : record.headers()) {
                        kafkaHeaders.add(header.key(),
                            headers.fromConnectHeader(topic, header.key(), header.schema(), header.value()));
                    }
                    byte[] key = keys.fromConnectData(topic, kafkaHeaders, record.keySchema(), record.key());
                    byte[] value = values.fromConnectData(topic, kafkaHeaders, record.valueSchema(), record.value());
                    sent.add(producer.send(new ProducerRecord<>(topic, null, key, value, kafkaHeaders)));
                }
                for (Future<RecordMetadata> future : sent) {
                    try {
                        future.get();
                    } catch (Exception e) {
                        throw new RuntimeException("debezium runner: the broker refused a record", e);
                    }
                }
                for (RecordChangeEvent<SourceRecord> event : batch) {
                    committer.markProcessed(event);
                }
                committer.markBatchFinished();
            })
            .build();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(running);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                running.close();
                done.await();
                producer.close();
                admin.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        done.await();
        producer.close();
        admin.close();
        executor.shutdown();
        System.exit(exit[0]);
    }

    /** The "config" object of a Kafka Connect registration, its values as strings. */
    static Map<String, String> connectorConfig(String json) throws Exception {
        JsonNode config = new ObjectMapper().readTree(json).get("config");
        if (config == null || !config.isObject()) {
            throw new IllegalArgumentException("no \"config\" object in the connector file");
        }
        Map<String, String> out = new HashMap<>();
        config.properties().forEach(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    static String required(Map<String, String> config, String key) {
        String value = config.get(key);
        if (value == null || value.isEmpty()) {
            System.err.println("debezium runner: missing setting " + key);
            System.exit(2);
        }
        return value;
    }

    /** A converter configured as Connect would: `<prefix>.class`-less name plus `<prefix>.*`. */
    static Converter converter(Map<String, String> config, String prefix, boolean isKey) throws Exception {
        String name = config.getOrDefault(prefix, "org.apache.kafka.connect.json.JsonConverter");
        Converter converter = (Converter) Class.forName(name).getDeclaredConstructor().newInstance();
        converter.configure(sub(config, prefix + "."), isKey);
        return converter;
    }

    static HeaderConverter headerConverter(Map<String, String> config) throws Exception {
        String name = config.getOrDefault("header.converter", "org.apache.kafka.connect.storage.SimpleHeaderConverter");
        HeaderConverter converter = (HeaderConverter) Class.forName(name).getDeclaredConstructor().newInstance();
        converter.configure(sub(config, "header.converter."));
        return converter;
    }

    static Map<String, String> sub(Map<String, String> config, String prefix) {
        Map<String, String> out = new HashMap<>();
        config.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }

    static void ensureTopic(Admin admin, String topic) {
        try {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        } catch (Exception e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                System.err.println("debezium runner: creating topic " + topic + ": " + e);
            }
        }
    }

    static void touch(String file) {
        if (file == null) {
            return;
        }
        try {
            Files.writeString(Path.of(file), "started\n", StandardCharsets.UTF_8);
        } catch (Exception e) {
            System.err.println("debezium runner: cannot write " + file + ": " + e);
        }
    }
}
