import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '#lib/config';
import { KafkaBus } from '#lib/kafka';
import { waitFor } from '#lib/testing';
import { startBroker, type StartedBroker } from '#scripts/kafka-broker.mjs';

// A broker of its own with a SASL_SSL listener: a private CA signs its certificate, and it knows
// one user for SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. The bus is built from the environment
// variables an operator sets (KAFKA_SSL*, KAFKA_SASL_*), as every role builds it.
const USER = 'cg_client';
const PASSWORD = 'Xq81vLm2Tz7pR4wK9sYd3nHb';
const TEST_TIMEOUT_MS = 60_000;

let dir: string;
let broker: StartedBroker;
const buses: KafkaBus[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A bus configured from environment variables, as the platform wires it. */
function busFromEnv(env: Record<string, string>): KafkaBus {
  const { bus } = loadConfig({ CG_ROLE: 'ingest', CLICKHOUSE_URL: 'http://clickhouse.invalid:8123', KAFKA_BROKERS: broker.securedBrokers!, ...env });
  if (bus.kind !== 'kafka') throw new Error('expected the Kafka bus');
  const kafka = new KafkaBus({
    brokers: bus.brokers,
    clientId: 'kafka-secured-spec',
    ssl: bus.ssl,
    sasl: bus.sasl,
    ensureTopicsTimeoutMs: 4_000,
    publishTimeoutMs: 4_000,
    connectionTimeoutMs: 2_000,
    maxWaitTimeMs: 200,
    logLevel: 'error',
    log: () => {},
  });
  buses.push(kafka);
  return kafka;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-kafka-secured-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Common Ground test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(dir, 'broker.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.pem', '-days', '2', '-extfile', 'broker.ext');
  const keystore = path.join(dir, 'broker.keystore.pem');
  writeFileSync(keystore, readFileSync(path.join(dir, 'broker.key'), 'utf8') + readFileSync(path.join(dir, 'broker.pem'), 'utf8'));
  broker = await startBroker({ profile: 'test', sasl: { users: { [USER]: PASSWORD } }, tls: { keystoreFile: keystore } });
}, 150_000);

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

afterAll(async () => {
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('Kafka over TLS with SASL', () => {
  const secured = () => ({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem'), KAFKA_SASL_USERNAME: USER, KAFKA_SASL_PASSWORD: PASSWORD });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'])('publishes and consumes with the CA from KAFKA_SSL_CA_FILE and SASL %s', async (mechanism) => {
    const bus = busFromEnv({ ...secured(), KAFKA_SASL_MECHANISM: mechanism });
    const topic = `test.kafka-secured.${mechanism}.${process.pid}`;
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    await bus.publish(topic, [{ key: 'did:plc:alice', value: `hello over ${mechanism}` }]);
    const received: string[] = [];
    const subscription = await bus.subscribe({
      groupId: `test-kafka-secured-${mechanism}-${process.pid}`,
      topics: [topic],
      handler: async (batch) => {
        received.push(...batch.messages.map((message) => message.value));
      },
    });
    await waitFor('the message', () => received.length > 0);
    await subscription.stop();
    expect(received).toEqual([`hello over ${mechanism}`]);
  }, TEST_TIMEOUT_MS);

  it('is refused with a wrong password', async () => {
    const bus = busFromEnv({ ...secured(), KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: 'Wrong-9f2c1e7a5b3d' });
    await expect(bus.ensureTopics([{ name: `test.kafka-secured.refused.${process.pid}`, partitions: 1 }])).rejects.toThrow(/SASL|authenticat/i);
  }, TEST_TIMEOUT_MS);

  it('does not trust the broker without its CA', async () => {
    const { KAFKA_SSL_CA_FILE: _ca, ...withoutCa } = secured();
    const bus = busFromEnv({ ...withoutCa, KAFKA_SASL_MECHANISM: 'scram-sha-256' });
    await expect(bus.ensureTopics([{ name: `test.kafka-secured.untrusted.${process.pid}`, partitions: 1 }])).rejects.toThrow(/certificate/i);
  }, TEST_TIMEOUT_MS);
});
