import type { ConfigIssue } from './config.errors.js';
import { isPlaceholderSecret } from './secret.rules.js';

/**
 * Typed readers over a raw environment map. Each reader records a problem instead of throwing,
 * so that start-up reports every bad variable at once.
 */
export class EnvReader {
  readonly issues: ConfigIssue[] = [];

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  /**
   * An optional secret. Refuses values known from examples and defaults, and values shorter than
   * `minLength`.
   * @NOTE The messages never repeat the value, unlike the other readers: the error goes to logs.
   */
  secret(name: string, rules: { minLength?: number } = {}): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (isPlaceholderSecret(value)) {
      this.issues.push({ variable: name, message: 'is a placeholder from an example or a default install: choose a long random value' });
    } else if (rules.minLength !== undefined && value.length < rules.minLength) {
      this.issues.push({ variable: name, message: `must be at least ${rules.minLength} characters, got ${value.length}` });
    }
    return value;
  }

  integer(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.issues.push({ variable: name, message: `expected an integer from ${min} to ${max}, got "${text}"` });
      return fallback;
    }
    return value;
  }

  number(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    const { min = -Infinity, max = Infinity } = range;
    if (!Number.isFinite(value) || value < min || value > max) {
      this.issues.push({ variable: name, message: `expected a number from ${min} to ${max}, got "${text}"` });
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const text = this.raw(name)?.toLowerCase();
    if (text === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    this.issues.push({ variable: name, message: `expected true or false, got "${text}"` });
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    if ((allowed as readonly string[]).includes(text)) return text as T;
    this.issues.push({ variable: name, message: `expected one of ${allowed.join(', ')}, got "${text}"` });
    return fallback;
  }

  list(name: string): string[] {
    return (this.raw(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string | undefined {
    const text = this.raw(name) ?? fallback;
    if (text === undefined) return undefined;
    try {
      const url = new URL(text);
      if (!protocols.includes(url.protocol)) {
        this.issues.push({ variable: name, message: `expected a ${protocols.join(' or ')} URL, got "${text}"` });
      }
    } catch {
      this.issues.push({ variable: name, message: `expected a URL, got "${text}"` });
    }
    return text;
  }

  problem(variable: string, message: string): void {
    this.issues.push({ variable, message });
  }
}
