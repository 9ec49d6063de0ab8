import { z } from 'zod';
import { fields } from './fields.js';

/** Days a weekly digest may appear on, as curators write them. */
export const Weekdays = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof Weekdays)[number];

/** Rankings a digest can freeze its editions from. */
export const DigestBases = ['bridging', 'bridging-within', 'balanced'] as const;

const POST_URI = /^at:\/\/did:[a-z]+:[A-Za-z0-9._:%-]+\/app\.bsky\.feed\.post\/[A-Za-z0-9._~:-]{1,512}$/;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The `digest` section of a feed with `ranking: digest`: at each cadence point (`daily` at `at` in
 * `timeZone`, or `weekly` on `day` at `at`) the ranker freezes an edition of the `size` best posts
 * of the `base` ranking not in an earlier edition; `endCard`, a post of the curator's, is served
 * last, pinned ("you're caught up — next edition Monday 8:00").
 */
export const digestSchema = fields({
  cadence: z.enum(['daily', 'weekly']),
  day: z.enum(Weekdays).optional(),
  at: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time of day as HH:MM (24-hour)')
    .default('08:00'),
  timeZone: z.string().refine(isTimeZone, 'expected an IANA time zone such as Europe/Paris or UTC').default('UTC'),
  size: z.number().int().min(1).max(100).default(20),
  base: z.enum(DigestBases).default('bridging'),
  endCard: z.string().regex(POST_URI, 'expected the at-uri of an app.bsky.feed.post').optional(),
}).superRefine((digest, context) => {
  if (digest.cadence === 'weekly' && digest.day === undefined) {
    context.addIssue({ code: 'custom', path: ['day'], message: `a weekly digest needs a day (${Weekdays.join(', ')})` });
  }
  if (digest.cadence === 'daily' && digest.day !== undefined) {
    context.addIssue({ code: 'custom', path: ['day'], message: 'a daily digest has no day' });
  }
});

export type DigestDefinition = z.infer<typeof digestSchema>;
