import { z } from 'zod';
import { isCommunityId, MAX_PLEDGE_CREDITS } from '#lib/contracts';
import { isDid, Nsid, parseAtUri } from '#lib/domain';

/** A pledge a curator records for a member through the admin API: the fields of a pledge record. */
export const adminPledgeSchema = z
  .object({
    pledger: z.string().refine(isDid, 'expected a DID'),
    community: z.string().refine(isCommunityId, 'expected a community id'),
    post: z.string().refine((uri) => parseAtUri(uri)?.collection === Nsid.post, 'expected the AT-URI of a post'),
    amount: z.number().int().min(1).max(MAX_PLEDGE_CREDITS),
  })
  .strict();

export type AdminPledge = z.infer<typeof adminPledgeSchema>;
