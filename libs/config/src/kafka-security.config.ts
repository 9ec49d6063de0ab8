import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigProblems } from './config.errors.js';
import type { Env } from './env.schema.js';

type KafkaSaslMechanism = NonNullable<Env['KAFKA_SASL_MECHANISM']>;

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
export function kafkaSecurity(env: Env, problems: ConfigProblems): KafkaSecurityConfig {
  const ssl: KafkaTlsConfig | undefined = env.KAFKA_SSL ? {} : undefined;
  for (const [field, variable] of TLS_FILES) {
    const file = env[variable];
    if (file === undefined) continue;
    if (ssl === undefined) {
      problems.add(variable, 'needs KAFKA_SSL=true');
      continue;
    }
    const pem = readPem(problems, variable, path.resolve(file));
    if (pem !== undefined) ssl[field] = pem;
  }
  if (ssl !== undefined && (env.KAFKA_SSL_CERT_FILE === undefined) !== (env.KAFKA_SSL_KEY_FILE === undefined)) {
    const missing = env.KAFKA_SSL_CERT_FILE === undefined ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE';
    problems.add(missing, 'a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE');
  }

  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = env;
  if (mechanism === undefined) {
    // A mechanism given but refused has its own problem; the credentials then say nothing more.
    if (problems.has('KAFKA_SASL_MECHANISM')) return { ssl, sasl: undefined };
    for (const [variable, value] of [['KAFKA_SASL_USERNAME', username], ['KAFKA_SASL_PASSWORD', password]] as const) {
      if (value !== undefined) problems.add(variable, 'needs KAFKA_SASL_MECHANISM (plain, scram-sha-256 or scram-sha-512)');
    }
    return { ssl, sasl: undefined };
  }
  if (username === undefined) problems.add('KAFKA_SASL_USERNAME', `required when KAFKA_SASL_MECHANISM=${mechanism}`);
  if (password === undefined) problems.add('KAFKA_SASL_PASSWORD', `required when KAFKA_SASL_MECHANISM=${mechanism}`);
  return { ssl, sasl: { mechanism, username: username ?? '', password: password ?? '' } };
}

function readPem(problems: ConfigProblems, variable: string, file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    problems.add(variable, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    return undefined;
  }
  if (!text.includes('-----BEGIN ')) {
    problems.add(variable, `expected a PEM file (-----BEGIN …), got ${file}`);
    return undefined;
  }
  return text;
}
