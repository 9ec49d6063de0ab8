import { z } from 'zod';

/**
 * Announced on `Topics.curation` after a curation version was written to ClickHouse. It names the
 * version only: every process reads the version itself from the store, so an announcement lost
 * or out of order costs a delay (the poll heals it), never a wrong definition.
 */
export const CurationChangedV1 = z.object({
  v: z.literal(1),
  /** The version written (microseconds since the epoch, see `curation_versions`). */
  version: z.number().int().positive(),
  hash: z.string().regex(/^[0-9a-f]{16}$/),
  source: z.enum(['file', 'admin', 'console']),
});
export type CurationChangedV1 = z.infer<typeof CurationChangedV1>;
