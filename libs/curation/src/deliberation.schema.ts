import { z } from 'zod';
import { normaliseTag } from '#lib/domain';
import { fields } from './fields.js';

const POST_URI = /^at:\/\/did:[a-z]+:[A-Za-z0-9._:%-]+\/app\.bsky\.feed\.post\/[A-Za-z0-9._~:-]{1,512}$/;

/**
 * The `deliberation` section of a feed with `ranking: deliberation`: a Polis-style conversation.
 * Its statements are the direct replies to and quotes of `root` (from the day before it was
 * written), or the posts tagged `hashtag` within the feed's window; `participants` says whose votes count (`anyone`, or only `members` of the feed's
 * communities). Votes are Bluesky's own: like = agree, requestLess = disagree, interactionSeen
 * without either = pass. The live report is public at `/conversations/<feed short name>`.
 */
export const deliberationSchema = fields({
  title: z.string().min(1).max(200).optional(),
  root: z.string().regex(POST_URI, 'expected the at-uri of an app.bsky.feed.post').optional(),
  hashtag: z
    .string()
    .regex(/^[^\s#]{1,64}$/u, 'expected a hashtag without # (at most 64 characters)')
    .transform(normaliseTag)
    .optional(),
  participants: z.enum(['anyone', 'members']).default('anyone'),
}).superRefine((conversation, context) => {
  if ((conversation.root === undefined) === (conversation.hashtag === undefined)) {
    context.addIssue({ code: 'custom', path: [], message: 'a conversation has either a root post or a hashtag (one of them)' });
  }
});

export type DeliberationDefinition = z.infer<typeof deliberationSchema>;
