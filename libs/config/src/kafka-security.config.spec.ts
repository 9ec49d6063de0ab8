import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from './app.config.js';
import { InvalidConfigError } from './config.errors.js';

const PEM = (label: string) => `-----BEGIN ${label}-----\nMIIB\n-----END ${label}-----\n`;
const scaled = { CG_ROLE: 'scoring', KAFKA_BROKERS: 'kafka:9093', CLICKHOUSE_URL: 'http://clickhouse:8123' };

function problems(env: Record<string, string>): Record<string, string> {
  try {
    loadConfig(env);
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    return Object.fromEntries(error.issues.map((issue) => [issue.variable, issue.message]));
  }
  return {};
}

describe('Kafka TLS and SASL settings', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cg-kafka-tls-'));
    writeFileSync(path.join(dir, 'ca.pem'), PEM('CERTIFICATE'));
    writeFileSync(path.join(dir, 'client.pem'), PEM('CERTIFICATE'));
    writeFileSync(path.join(dir, 'client.key'), PEM('PRIVATE KEY'));
    writeFileSync(path.join(dir, 'notes.txt'), 'not a certificate');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('connects in plaintext without authentication unless told otherwise', () => {
    expect(loadConfig(scaled).bus).toMatchObject({ kind: 'kafka', ssl: undefined, sasl: undefined });
  });

  it('enables TLS with the system CAs, or with the CA and client certificate read from files at start', () => {
    expect(loadConfig({ ...scaled, KAFKA_SSL: 'true' }).bus).toMatchObject({ ssl: {} });
    const bus = loadConfig({
      ...scaled,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem'),
      KAFKA_SSL_CERT_FILE: path.join(dir, 'client.pem'),
      KAFKA_SSL_KEY_FILE: path.join(dir, 'client.key'),
    }).bus;
    expect(bus).toMatchObject({ ssl: { ca: PEM('CERTIFICATE'), cert: PEM('CERTIFICATE'), key: PEM('PRIVATE KEY') } });
  });

  it('refuses certificate files that are missing, not PEM, half a pair, or given without KAFKA_SSL=true', () => {
    expect(
      problems({ ...scaled, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(dir, 'missing.pem'), KAFKA_SSL_CERT_FILE: path.join(dir, 'notes.txt') }),
    ).toEqual({
      KAFKA_SSL_CA_FILE: expect.stringMatching(/cannot read .*missing\.pem \(ENOENT\)/),
      KAFKA_SSL_CERT_FILE: expect.stringContaining('expected a PEM file'),
      KAFKA_SSL_KEY_FILE: 'a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE',
    });
    expect(problems({ ...scaled, KAFKA_SSL_CA_FILE: path.join(dir, 'ca.pem') })).toEqual({ KAFKA_SSL_CA_FILE: 'needs KAFKA_SSL=true' });
    expect(problems({ ...scaled, KAFKA_SSL: 'maybe' })).toEqual({ KAFKA_SSL: 'expected true or false, got "maybe"' });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('authenticates with SASL %s', (mechanism) => {
    const bus = loadConfig({ ...scaled, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'common-ground', KAFKA_SASL_PASSWORD: 'Wq93-hT2v-k8Lp-0zRx' }).bus;
    expect(bus).toMatchObject({ sasl: { mechanism, username: 'common-ground', password: 'Wq93-hT2v-k8Lp-0zRx' } });
  });

  it('refuses a SASL mechanism without its username and password, and credentials without a mechanism', () => {
    expect(problems({ ...scaled, KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toEqual({
      KAFKA_SASL_USERNAME: 'required when KAFKA_SASL_MECHANISM=scram-sha-512',
      KAFKA_SASL_PASSWORD: 'required when KAFKA_SASL_MECHANISM=scram-sha-512',
    });
    expect(problems({ ...scaled, KAFKA_SASL_USERNAME: 'common-ground', KAFKA_SASL_PASSWORD: 'Wq93-hT2v-k8Lp-0zRx' })).toEqual({
      KAFKA_SASL_USERNAME: expect.stringContaining('needs KAFKA_SASL_MECHANISM'),
      KAFKA_SASL_PASSWORD: expect.stringContaining('needs KAFKA_SASL_MECHANISM'),
    });
    expect(problems({ ...scaled, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'Wq93-hT2v-k8Lp-0zRx' })).toEqual({
      KAFKA_SASL_MECHANISM: 'expected one of plain, scram-sha-256, scram-sha-512, got "gssapi"',
    });
    expect(problems({ ...scaled, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'changeme' })).toEqual({
      KAFKA_SASL_PASSWORD: expect.stringContaining('placeholder'),
    });
  });
});
