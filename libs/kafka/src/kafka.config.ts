import type { KafkaConfig as KafkaJsConfig, RetryOptions } from 'kafkajs';

/** How long a process starting while its broker is away waits for it, at each step that needs the broker. */
export const DEFAULT_START_TIMEOUT_MS = 120_000;

export type KafkaCompression = 'zstd' | 'gzip' | 'none';

/** TLS to the brokers, as PEM text. No field set: TLS with the system's trusted CAs. */
interface KafkaTlsOptions {
  ca?: string;
  /** Client certificate and its key, for brokers that authenticate clients by certificate. */
  cert?: string;
  key?: string;
}

interface KafkaSaslOptions {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export type KafkaLogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * Receives the log lines of kafkajs and of the bus. `extra.namespace` names the component
 * (`Producer`, `Consumer`, `Runner`... from kafkajs, `KafkaBus` for this library's own lines).
 */
type KafkaLog = (level: KafkaLogLevel, message: string, extra?: Record<string, unknown>) => void;

export interface KafkaBusOptions {
  /** `host:port` of one or more brokers. */
  brokers: string[];
  /** Encrypt connections to the brokers (absent: plaintext). */
  ssl?: KafkaTlsOptions;
  /** Authenticate to the brokers (absent: no SASL). */
  sasl?: KafkaSaslOptions;
  clientId?: string;
  /**
   * Producer compression (default zstd, through Node's own zlib: the fastest here and the smallest;
   * brokers from Kafka 2.1 accept it). Consumers need nothing: the codecs are registered for both.
   */
  compression?: KafkaCompression;
  /**
   * Idempotent producers a publish is spread over by key (default 2). Each keeps one request in
   * flight; several let encoding and the broker's work overlap. A key always uses the same one.
   */
  producers?: number;
  /**
   * Replication factor of topics created by `ensureTopics`. Absent: the brokers' own
   * `default.replication.factor` (kafkajs then sends -1, which brokers from Kafka 2.4 accept).
   */
  replicationFactor?: number;
  /**
   * How long `ensureTopics` waits for an unreachable broker (default 120 s): a process started while
   * its broker starts or restarts waits for it instead of exiting.
   */
  ensureTopicsTimeoutMs?: number;
  /** Upper bound on the time one `publish` may take before it rejects with `BusUnavailableError`. */
  publishTimeoutMs?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Default upper bound on messages per handler call, when `subscribe` does not give one. */
  maxBatchSize?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Longest time a fetch waits on the broker for new data; also bounds how long `stop()` waits for an idle fetch. */
  maxWaitTimeMs?: number;
  /**
   * Partitions whose batches are handled at the same time by one consumer (each partition stays in
   * order): decoding one batch overlaps with writing another.
   */
  partitionsConsumedConcurrently?: number;
  /** Most bytes fetched per partition in one request (default 8 MiB: large batches make few, large ClickHouse inserts). */
  maxBytesPerPartition?: number;
  /** First wait after a handler failure before the batch is handed over again; doubles up to `handlerRetryMaxMs`. */
  handlerRetryInitialMs?: number;
  handlerRetryMaxMs?: number;
  pingTimeoutMs?: number;
  /** Lines below this level are dropped. */
  logLevel?: KafkaLogLevel;
  /** Where log lines go; the default writes one line per entry to stderr. */
  log?: KafkaLog;
}

export type ResolvedKafkaBusOptions = Required<Omit<KafkaBusOptions, 'ssl' | 'sasl' | 'replicationFactor'>> & Pick<KafkaBusOptions, 'ssl' | 'sasl' | 'replicationFactor'>;

const defaultKafkaLog: KafkaLog = (level, message, extra = {}) => {
  const { namespace, stack: _stack, ...rest } = extra;
  const details = Object.keys(rest).length > 0 ? ` ${safeJson(rest)}` : '';
  const component = typeof namespace === 'string' && namespace ? ` ${namespace}:` : '';
  process.stderr.write(`[kafka] ${level.toUpperCase()}${component} ${message}${details}\n`);
};

export function resolveKafkaBusOptions(options: KafkaBusOptions): ResolvedKafkaBusOptions {
  if (options.brokers.length === 0) throw new Error('KafkaBus needs at least one broker');
  if (options.producers !== undefined && !(Number.isInteger(options.producers) && options.producers >= 1)) {
    throw new Error(`producers must be a positive integer, got ${options.producers}`);
  }
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
  return {
    brokers: options.brokers,
    ssl: options.ssl,
    sasl: options.sasl,
    clientId: options.clientId ?? 'common-ground',
    compression: options.compression ?? 'zstd',
    producers: options.producers ?? 2,
    replicationFactor: options.replicationFactor,
    publishTimeoutMs: options.publishTimeoutMs ?? 30_000,
    ensureTopicsTimeoutMs: options.ensureTopicsTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    connectionTimeoutMs: options.connectionTimeoutMs ?? 3_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    maxBatchSize: options.maxBatchSize ?? 1_000,
    sessionTimeoutMs,
    // A third of the session at most, as Kafka advises: a short session still survives a late heartbeat.
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? Math.min(3_000, Math.floor(sessionTimeoutMs / 3)),
    maxWaitTimeMs: options.maxWaitTimeMs ?? 1_000,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 8 * 1_048_576,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
    handlerRetryInitialMs: options.handlerRetryInitialMs ?? 200,
    handlerRetryMaxMs: options.handlerRetryMaxMs ?? 5_000,
    pingTimeoutMs: options.pingTimeoutMs ?? 2_000,
    logLevel: options.logLevel ?? 'warn',
    log: options.log ?? defaultKafkaLog,
  };
}

/**
 * The kafkajs `ssl` and `sasl` client options. Nothing set gives neither (plaintext, no
 * authentication); TLS without files gives `ssl: true`, kafkajs's TLS with the system's CAs.
 */
export function kafkaJsSecurity(options: Pick<KafkaBusOptions, 'ssl' | 'sasl'>): Pick<KafkaJsConfig, 'ssl' | 'sasl'> {
  const security: Pick<KafkaJsConfig, 'ssl' | 'sasl'> = {};
  if (options.ssl !== undefined) {
    const { ca, cert, key } = options.ssl;
    security.ssl =
      ca === undefined && cert === undefined && key === undefined
        ? true
        : { ...(ca !== undefined && { ca: [ca] }), ...(cert !== undefined && { cert }), ...(key !== undefined && { key }) };
  }
  if (options.sasl !== undefined) {
    const { mechanism, username, password } = options.sasl;
    // kafkajs types one object per mechanism; these three take the same fields.
    security.sasl = { mechanism, username, password } as KafkaJsConfig['sasl'];
  }
  return security;
}

/** Parses a comma-separated broker list such as the `KAFKA_BROKERS` environment variable. */
export function parseBrokerList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, item: unknown) =>
      item instanceof Error ? `${item.name}: ${item.message}` : typeof item === 'bigint' ? item.toString() : item,
    );
  } catch {
    return '[unserialisable]';
  }
}

/**
 * A consumer's retries of fetches, joins and commits before kafkajs restarts it (see kafka.bus.ts
 * on `factor`), and no restart once its owner is stopping.
 *
 * @NOTE kafkajs schedules the restart of a crashed consumer after its own `disconnect()`, and a
 * restart under way when its owner disconnects crashes again on the missing broker and schedules
 * another: without this, a consumer stopped while its broker was away restarted for ever.
 */
export function consumerRetry(stopping: () => boolean): RetryOptions {
  return { initialRetryTime: 300, maxRetryTime: 5_000, retries: 8, factor: 0.2, multiplier: 2, restartOnFailure: () => Promise.resolve(!stopping()) };
}
