import { z } from 'zod';
import { isPlaceholderSecret } from './secret.rules.js';

/**
 * zod schemas for single environment variables, with the messages operators see. Each reads the
 * raw text (trimmed; unset or blank is absent) and yields a typed value, its fallback when absent.
 * A bad value is an issue naming what was expected and what was given (never a secret's value).
 */
export type Variable<T> = z.ZodType<T, z.ZodTypeDef, string | undefined>;

const present = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** A variable read by `parse` (which answers `undefined` for a bad value, then `problem` says why). */
function variable<T>(parse: (text: string) => T | undefined, problem: (text: string) => string): Variable<T | undefined> {
  return present.transform((text, ctx) => {
    if (text === undefined) return undefined;
    const value = parse(text);
    if (value === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem(text) });
      return z.NEVER;
    }
    return value;
  });
}

function orFallback<T>(schema: Variable<T | undefined>, fallback: T | undefined): Variable<T | undefined> {
  return fallback === undefined ? schema : schema.transform((value) => value ?? fallback);
}

/** Plain text; `fallback` when absent. */
export function text(fallback: string): Variable<string>;
export function text(): Variable<string | undefined>;
export function text(fallback?: string): Variable<string | undefined> {
  return orFallback(present, fallback);
}

/** Text matching `pattern`; `expected` says what that means to an operator. */
export function matching(pattern: RegExp, expected: string, fallback: string): Variable<string> {
  return orFallback(
    variable((text) => (pattern.test(text) ? text : undefined), (text) => `expected ${expected}, got "${text}"`),
    fallback,
  ) as Variable<string>;
}

function bounded(what: string, isKind: (value: number) => boolean, fallback: number | undefined, min: number, max: number): Variable<number | undefined> {
  return orFallback(
    variable(
      (text) => {
        const value = Number(text);
        return isKind(value) && value >= min && value <= max ? value : undefined;
      },
      (text) => `expected ${what} from ${min} to ${max}, got "${text}"`,
    ),
    fallback,
  );
}

interface Bounds {
  min?: number;
  max?: number;
}

/** An integer within the bounds; `fallback` when absent, or undefined without one. */
export function integer(fallback: number, bounds?: Bounds): Variable<number>;
export function integer(fallback: undefined, bounds?: Bounds): Variable<number | undefined>;
export function integer(fallback: number | undefined, { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER }: Bounds = {}): Variable<number | undefined> {
  return bounded('an integer', Number.isInteger, fallback, min, max);
}

export function number(fallback: number, { min = -Infinity, max = Infinity }: Bounds = {}): Variable<number> {
  return bounded('a number', Number.isFinite, fallback, min, max) as Variable<number>;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

export function boolean(fallback: boolean): Variable<boolean> {
  return orFallback(
    variable(
      (text) => (TRUE.includes(text.toLowerCase()) ? true : FALSE.includes(text.toLowerCase()) ? false : undefined),
      (text) => `expected true or false, got "${text.toLowerCase()}"`,
    ),
    fallback,
  ) as Variable<boolean>;
}

/** One of `allowed`; absent: `fallback`, or undefined without one. */
export function oneOf<const T extends string>(allowed: readonly T[], fallback: T): Variable<T>;
export function oneOf<const T extends string>(allowed: readonly T[]): Variable<T | undefined>;
export function oneOf<const T extends string>(allowed: readonly T[], fallback?: T): Variable<T | undefined> {
  return orFallback(
    variable(
      (text) => (allowed as readonly string[]).includes(text) ? (text as T) : undefined,
      (text) => `expected one of ${allowed.join(', ')}, got "${text}"`,
    ),
    fallback,
  );
}

/** Comma-separated items; absent: none. */
export function list(): Variable<string[]> {
  return present.transform((text) =>
    (text ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );
}

/** A URL with one of `protocols` (e.g. `['ws:', 'wss:']`), kept as written. */
export function url(protocols: readonly string[], fallback: string): Variable<string>;
export function url(protocols: readonly string[]): Variable<string | undefined>;
export function url(protocols: readonly string[], fallback?: string): Variable<string | undefined> {
  return orFallback(
    variable(
      (text) => (URL.canParse(text) && protocols.includes(new URL(text).protocol) ? text : undefined),
      (text) => (URL.canParse(text) ? `expected a ${protocols.join(' or ')} URL, got "${text}"` : `expected a URL, got "${text}"`),
    ),
    fallback,
  );
}

/** What `secret()` variables are flagged with (`schema.description`). */
export const SECRET = 'secret';

/**
 * An optional secret. Refuses values known from examples and defaults, and values shorter than
 * `minLength`.
 * @NOTE The messages never repeat the value, unlike the other variables: the error goes to logs.
 */
export function secret(rules: { minLength?: number } = {}): Variable<string | undefined> {
  return present
    .superRefine((value, ctx) => {
      if (value === undefined) return;
      if (isPlaceholderSecret(value)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is a placeholder from an example or a default install: choose a long random value' });
      } else if (rules.minLength !== undefined && value.length < rules.minLength) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be at least ${rules.minLength} characters, got ${value.length}` });
      }
    })
    .describe(SECRET);
}
