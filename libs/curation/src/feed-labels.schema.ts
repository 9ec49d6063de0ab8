import { z } from 'zod';
import { fields } from './fields.js';

/** A label value, as labelers define them: lower-case ASCII letters and hyphens. */
const labelValue = z.string().regex(/^[a-z][a-z-]{0,99}$/, 'expected a label value (lower-case letters and hyphens, at most 100)');

/**
 * How a feed treats posts labelled by the labelers we follow (`LABELERS_SUBSCRIBE`): `exclude`
 * removes posts carrying one of the values (or by an account carrying one), `downrank` scales
 * their scores by `factor`.
 */
export const feedLabelRulesSchema = fields({
  exclude: z.array(labelValue).default([]),
  downrank: fields({
    labels: z.array(labelValue).min(1, 'name at least one label'),
    factor: z.number().gt(0, 'expected a factor above 0').lt(1, 'expected a factor below 1 (1 would change nothing)'),
  }).optional(),
});

export type FeedLabelRules = z.infer<typeof feedLabelRulesSchema>;
