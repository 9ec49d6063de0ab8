import { z } from 'zod';

/** An object whose unknown keys are refused, each named with the keys it knows. */
export function fields<T extends z.ZodRawShape>(shape: T, notAMapping = 'expected a mapping of names to definitions') {
  return z.object(shape, { invalid_type_error: notAMapping }).strict(`unknown field (known: ${Object.keys(shape).join(', ')})`);
}
