/** `value`, or an error naming what a test used before starting it (a failed `beforeAll`). */
export function started<T>(what: string, value: T | undefined): T {
  if (value === undefined) throw new Error(`${what} not started`);
  return value;
}
