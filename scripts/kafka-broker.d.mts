// Types for scripts/kafka-broker.mjs (plain ESM, so the TypeScript tests can import it).
export declare const KAFKA_VERSION: string;

/**
 * `throughput` (default; what the benchmarks measure): two network and two I/O threads, both JIT
 * compilers. `test`: a broker for a test run, cheap to start and to keep idle: the client compiler
 * alone, one thread of each kind, no metadata no-op records, no log cleaner.
 */
export type BrokerProfile = 'throughput' | 'test';

export interface StartBrokerOptions {
  /** What the broker is for (default `throughput`). */
  profile?: BrokerProfile;
  /** PLAINTEXT port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** KRaft controller port on 127.0.0.1; a free one when omitted. */
  controllerPort?: number;
  /** Folder for config, data and logs; reused if already formatted and never removed. Default: a new temp folder. */
  dataDir?: string;
  /** Keep the temp folder when the broker stops (default false; always true with `dataDir`). */
  keepData?: boolean;
  /** How long to wait for "Kafka Server started" (default 90 s). */
  startTimeoutMs?: number;
  /** Adds a `SECURED` listener (see `securedBrokers`) that authenticates these users with SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. */
  sasl?: { users: Record<string, string> };
  /** Adds a `SECURED` listener over TLS: a PEM file with the broker's private key (PKCS#8) and certificate chain. */
  tls?: { keystoreFile: string };
}

export interface StartedBroker {
  /** `127.0.0.1:PORT`, the bootstrap address for clients. */
  brokers: string;
  /** `127.0.0.1:PORT` of the `SECURED` listener, when `sasl` or `tls` was given. */
  securedBrokers: string | undefined;
  port: number;
  controllerPort: number;
  dataDir: string;
  /** PID of the broker JVM; undefined while stopped. */
  readonly pid: number | undefined;
  /** SIGTERM, SIGKILL after 20 s; then removes the temp data folder unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Stops and starts the broker again on the same ports with the same data. */
  restart(): Promise<void>;
}

/** Downloads the broker jars with `mvn` once and returns the cached folder holding them. */
export declare function ensureKafkaJars(): Promise<string>;
export declare function startBroker(options?: StartBrokerOptions): Promise<StartedBroker>;
