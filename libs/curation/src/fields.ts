import { z } from 'zod';

/** An object whose unknown keys are refused, each named with the keys it knows. */
export function fields<T extends z.ZodRawShape>(shape: T, notAMapping = 'expected a mapping of names to definitions') {
  return z.object(shape, { invalid_type_error: notAMapping }).strict(`unknown field (known: ${Object.keys(shape).join(', ')})`);
}

/** Refuses an id named twice in one list, at the second mention: a list of ids is a set. */
export function distinct(ids: readonly string[], ctx: z.RefinementCtx): void {
  ids.forEach((id, index) => {
    if (ids.indexOf(id) !== index) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [index], message: `"${id}" is named twice` });
  });
}
