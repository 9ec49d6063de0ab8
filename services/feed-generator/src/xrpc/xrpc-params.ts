import { InvalidRequestError } from './xrpc.errors.js';

type Query = Record<string, unknown>;

/** A single string parameter (a repeated one is an error, as in the atproto XRPC server). */
export function stringParam(query: Query, name: string, options: { required: true; maxLength?: number }): string;
export function stringParam(query: Query, name: string, options?: { required?: false; maxLength?: number }): string | undefined;
export function stringParam(query: Query, name: string, options: { required?: boolean; maxLength?: number } = {}): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') {
    if (options.required) throw new InvalidRequestError(`Error: Params must have the property "${name}"`);
    return undefined;
  }
  if (typeof value !== 'string') throw new InvalidRequestError(`Error: ${name} must be a string`);
  if (options.maxLength !== undefined && value.length > options.maxLength) {
    throw new InvalidRequestError(`Error: ${name} must not be longer than ${options.maxLength} characters`);
  }
  return value;
}

export function integerParam(query: Query, name: string, range: { min: number; max: number; fallback: number }): number {
  const text = stringParam(query, name);
  if (text === undefined) return range.fallback;
  if (!/^-?\d+$/.test(text)) throw new InvalidRequestError(`Error: ${name} must be an integer`);
  const value = Number(text);
  if (value < range.min) throw new InvalidRequestError(`Error: ${name} can not be less than ${range.min}`);
  if (value > range.max) throw new InvalidRequestError(`Error: ${name} can not be greater than ${range.max}`);
  return value;
}

/** A repeatable string parameter (`?a=x&a=y`): every value, each at most `maxLength`, at most `maxItems`. */
export function stringListParam(query: Query, name: string, options: { required?: boolean; maxLength: number; maxItems: number }): string[] {
  const raw = query[name];
  const values = raw === undefined || raw === '' ? [] : Array.isArray(raw) ? raw : [raw];
  if (values.length === 0 && options.required) throw new InvalidRequestError(`Error: Params must have the property "${name}"`);
  if (values.length > options.maxItems) throw new InvalidRequestError(`Error: ${name} must not have more than ${options.maxItems} elements`);
  return values.map((value) => {
    if (typeof value !== 'string') throw new InvalidRequestError(`Error: ${name} must be a list of strings`);
    if (value.length > options.maxLength) throw new InvalidRequestError(`Error: ${name} items must not be longer than ${options.maxLength} characters`);
    return value;
  });
}
