import { z } from 'zod';
import { InvalidRequestError } from './xrpc.errors.js';

/**
 * Request inputs (query parameters and bodies) are zod schemas; `parseParams` and `parseBody`
 * translate the first issue into `InvalidRequestError`, worded as the atproto XRPC server words it
 * (`Error: limit can not be greater than 100`, `Input/interactions/0/item must be an at-uri`).
 */

const emptyAsAbsent = (value: unknown) => (value === '' ? undefined : value);

/** A single string parameter (a repeated one is an error, as in the atproto XRPC server). */
export function stringParam(maxLength: number) {
  return z.preprocess(
    emptyAsAbsent,
    z.string({ invalid_type_error: 'must be a string' }).max(maxLength, `must not be longer than ${maxLength} characters`).optional(),
  );
}

export function requiredStringParam(maxLength: number) {
  return z.preprocess(
    emptyAsAbsent,
    z.string({ invalid_type_error: 'must be a string' }).max(maxLength, `must not be longer than ${maxLength} characters`),
  );
}

export function integerParam({ min, max, fallback }: { min: number; max: number; fallback: number }) {
  return z.preprocess(
    emptyAsAbsent,
    z
      .string({ invalid_type_error: 'must be a string' })
      .regex(/^-?\d+$/, 'must be an integer')
      .transform(Number)
      .pipe(z.number().min(min, `can not be less than ${min}`).max(max, `can not be greater than ${max}`))
      .optional()
      .transform((value) => value ?? fallback),
  );
}

/** A repeatable string parameter (`?a=x&a=y`): every value, each at most `maxLength`, at most `maxItems`. */
export function stringListParam({ maxLength, maxItems }: { maxLength: number; maxItems: number }) {
  return z.preprocess(
    (value) => (value === undefined || value === '' ? [] : Array.isArray(value) ? value : [value]),
    z
      .array(z.string({ invalid_type_error: 'must be a list of strings' }).max(maxLength, `items must not be longer than ${maxLength} characters`), {
        invalid_type_error: 'must be a list of strings',
      })
      .max(maxItems, `must not have more than ${maxItems} elements`),
  );
}

function message(issue: z.ZodIssue, where: 'Params' | 'Input'): string {
  const path = issue.path.map(String);
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') {
    const property = path.pop() ?? '';
    return where === 'Params' ? `Error: Params must have the property "${property}"` : `${['Input', ...path].join('/')} must have the property "${property}"`;
  }
  return where === 'Params' ? `Error: ${path.join('/') || 'Params'} ${issue.message}` : `${['Input', ...path].join('/')} ${issue.message}`;
}

function parse<T extends z.ZodTypeAny>(schema: T, value: unknown, where: 'Params' | 'Input'): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data as z.output<T>;
  throw new InvalidRequestError(message(result.error.issues[0]!, where));
}

export const parseParams = <T extends z.ZodTypeAny>(schema: T, query: unknown): z.output<T> => parse(schema, query, 'Params');
export const parseBody = <T extends z.ZodTypeAny>(schema: T, body: unknown): z.output<T> => parse(schema, body, 'Input');
