import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EnvReader } from './env.reader.js';

const KafkaSaslMechanisms = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
type KafkaSaslMechanism = (typeof KafkaSaslMechanisms)[number];

/** TLS to the brokers. Each field holds PEM text; an absent CA means the system's trusted CAs. */
interface KafkaTlsConfig {
  ca?: string;
  /** Client certificate and key, for brokers that authenticate clients by certificate (mutual TLS). */
  cert?: string;
  /** Secret. */
  key?: string;
}

interface KafkaSaslConfig {
  mechanism: KafkaSaslMechanism;
  username: string;
  /** Secret. */
  password: string;
}

export interface KafkaSecurityConfig {
  /** Absent: plaintext connections. */
  ssl: KafkaTlsConfig | undefined;
  /** Absent: no SASL authentication. */
  sasl: KafkaSaslConfig | undefined;
}

const TLS_FILES = [
  ['ca', 'KAFKA_SSL_CA_FILE'],
  ['cert', 'KAFKA_SSL_CERT_FILE'],
  ['key', 'KAFKA_SSL_KEY_FILE'],
] as const;

/**
 * `KAFKA_SSL*` and `KAFKA_SASL_*`: how the Kafka client authenticates and encrypts.
 * @NOTE The certificate files are read here, at start-up, rather than by the Kafka adapter: a
 * missing or unreadable file is then listed with every other bad variable before anything connects.
 */
export function readKafkaSecurity(read: EnvReader): KafkaSecurityConfig {
  const sslEnabled = read.boolean('KAFKA_SSL', false);
  const ssl: KafkaTlsConfig | undefined = sslEnabled ? {} : undefined;
  for (const [field, variable] of TLS_FILES) {
    const file = read.optionalString(variable);
    if (file === undefined) continue;
    if (ssl === undefined) {
      read.problem(variable, 'needs KAFKA_SSL=true');
      continue;
    }
    const pem = readPem(read, variable, path.resolve(file));
    if (pem !== undefined) ssl[field] = pem;
  }
  if (ssl !== undefined && (read.raw('KAFKA_SSL_CERT_FILE') === undefined) !== (read.raw('KAFKA_SSL_KEY_FILE') === undefined)) {
    const missing = read.raw('KAFKA_SSL_CERT_FILE') === undefined ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE';
    read.problem(missing, 'a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE');
  }

  const mechanism = read.raw('KAFKA_SASL_MECHANISM') === undefined ? undefined : read.oneOf('KAFKA_SASL_MECHANISM', KafkaSaslMechanisms, 'plain');
  const username = read.optionalString('KAFKA_SASL_USERNAME');
  const password = read.secret('KAFKA_SASL_PASSWORD');
  if (mechanism === undefined) {
    for (const [variable, value] of [['KAFKA_SASL_USERNAME', username], ['KAFKA_SASL_PASSWORD', password]] as const) {
      if (value !== undefined) read.problem(variable, 'needs KAFKA_SASL_MECHANISM (plain, scram-sha-256 or scram-sha-512)');
    }
    return { ssl, sasl: undefined };
  }
  if (username === undefined) read.problem('KAFKA_SASL_USERNAME', `required when KAFKA_SASL_MECHANISM=${mechanism}`);
  if (password === undefined) read.problem('KAFKA_SASL_PASSWORD', `required when KAFKA_SASL_MECHANISM=${mechanism}`);
  return { ssl, sasl: { mechanism, username: username ?? '', password: password ?? '' } };
}

function readPem(read: EnvReader, variable: string, file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    read.problem(variable, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    return undefined;
  }
  if (!text.includes('-----BEGIN ')) {
    read.problem(variable, `expected a PEM file (-----BEGIN …), got ${file}`);
    return undefined;
  }
  return text;
}
