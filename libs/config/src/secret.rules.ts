/**
 * Values that appear in examples, tutorials and default installs. A deployment that still carries
 * one has not chosen its secret: it starts with a password everybody knows. Compared after
 * lower-casing and removing everything but letters and digits, so `Change_Me` and `change-me` match.
 */
const PLACEHOLDERS = new Set([
  'changeme',
  'changeit',
  'replaceme',
  'secret',
  'mysecret',
  'supersecret',
  'topsecret',
  'password',
  'passw0rd',
  'p4ssw0rd',
  'mypassword',
  'admin',
  'administrator',
  'adminadmin',
  'root',
  'toor',
  'guest',
  'default',
  'test',
  'testing',
  'example',
  'sample',
  'demo',
  'token',
  'admintoken',
  'apikey',
  'placeholder',
  'letmein',
  'welcome',
  'qwerty',
  '123456',
  '12345678',
  '123456789',
  '1234567890',
  'clickhouse',
  'kafka',
  'grafana',
  'prometheus',
  'commonground',
  'none',
  'null',
  'todo',
  'xxx',
]);

/**
 * Fragments only a placeholder contains: `change-me-to-a-long-random-token` (our own Kubernetes
 * example until it became a `kubectl create secret` step), `your-token-here`, `<insert password>`.
 */
const PLACEHOLDER_FRAGMENTS = ['changeme', 'changeit', 'replaceme', 'replacewith', 'yourtoken', 'yoursecret', 'yourpassword', 'placeholder', 'insert', 'example'];

/** Whether a secret is a value known from examples and defaults rather than one the operator chose. */
export function isPlaceholderSecret(value: string): boolean {
  const normalised = value.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (normalised.length === 0) return true;
  if (PLACEHOLDERS.has(normalised)) return true;
  if (PLACEHOLDER_FRAGMENTS.some((fragment) => normalised.includes(fragment))) return true;
  // `xxxxxxxx…`, `00000000…`: one character repeated is a mask, not a secret.
  return new Set(normalised).size === 1;
}
