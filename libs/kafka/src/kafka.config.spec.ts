import { loadConfig } from '#lib/config';
import { consumerRetry, kafkaJsSecurity, resolveKafkaBusOptions } from './kafka.config.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

describe('kafkajs security options', () => {
  it('gives kafkajs neither ssl nor sasl for a plaintext broker', () => {
    expect(kafkaJsSecurity(resolveKafkaBusOptions({ brokers: ['kafka:9092'] }))).toEqual({});
  });

  it('turns TLS without files into ssl: true (the system CAs)', () => {
    expect(kafkaJsSecurity(resolveKafkaBusOptions({ brokers: ['kafka:9093'], ssl: {} }))).toEqual({ ssl: true });
  });

  it('passes the CA, client certificate and key as TLS connection options', () => {
    expect(kafkaJsSecurity(resolveKafkaBusOptions({ brokers: ['kafka:9093'], ssl: { ca: CA } }))).toEqual({ ssl: { ca: [CA] } });
    expect(kafkaJsSecurity(resolveKafkaBusOptions({ brokers: ['kafka:9093'], ssl: { ca: CA, cert: CA, key: KEY } }))).toEqual({
      ssl: { ca: [CA], cert: CA, key: KEY },
    });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('passes SASL %s credentials, over TLS or not', (mechanism) => {
    const sasl = { mechanism, username: 'common-ground', password: 'Wq93-hT2v-k8Lp-0zRx' };
    expect(kafkaJsSecurity(resolveKafkaBusOptions({ brokers: ['kafka:9092'], sasl }))).toEqual({ sasl });
    expect(kafkaJsSecurity(resolveKafkaBusOptions({ brokers: ['kafka:9093'], ssl: { ca: CA }, sasl }))).toEqual({ ssl: { ca: [CA] }, sasl });
  });

  it('carries the KAFKA_SSL and KAFKA_SASL_* settings through to kafkajs', () => {
    const { bus } = loadConfig({
      CG_ROLE: 'ingest',
      CLICKHOUSE_URL: 'http://clickhouse:8123',
      KAFKA_BROKERS: 'kafka-0:9093,kafka-1:9093',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'common-ground',
      KAFKA_SASL_PASSWORD: 'Wq93-hT2v-k8Lp-0zRx',
    });
    if (bus.kind !== 'kafka') throw new Error('expected the Kafka bus');
    expect(kafkaJsSecurity(resolveKafkaBusOptions({ brokers: bus.brokers, ssl: bus.ssl, sasl: bus.sasl }))).toEqual({
      ssl: true,
      sasl: { mechanism: 'scram-sha-256', username: 'common-ground', password: 'Wq93-hT2v-k8Lp-0zRx' },
    });
  });
});

describe('consumer restarts', () => {
  it('lets kafkajs restart a crashed consumer while its owner runs, and never once the owner is stopping', async () => {
    let stopping = false;
    const retry = consumerRetry(() => stopping);
    const crash = Object.assign(new Error('Connection timeout'), { name: 'KafkaJSNumberOfRetriesExceeded' });
    await expect(retry.restartOnFailure!(crash)).resolves.toBe(true);
    stopping = true;
    await expect(retry.restartOnFailure!(crash)).resolves.toBe(false);
  });
});
