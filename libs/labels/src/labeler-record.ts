import type { AtpAgent } from '@atproto/api';
import { isDeepStrictEqual } from 'node:util';
import { Nsid } from '#lib/domain';
import { labelerPolicies, type CommunityNaming, type LabelerPolicies } from './labeler-policies.js';

/** What writing the labeler's service record did. */
export interface LabelerRecordResult {
  /** `at://<labeler>/app.bsky.labeler.service/self`. */
  uri: string;
  /** False when the record already declared these values, names and descriptions: nothing was written. */
  written: boolean;
  labelValues: string[];
}

/**
 * Makes the `app.bsky.labeler.service` record (`rkey: self`) of the account `agent` is logged in
 * as declare every value our labels can take for `communities`, with their names: the Bluesky app
 * shows only the values a labeler declares. Written only when it declares something else; its
 * `createdAt` is kept. An app password is enough (it writes a record, not the identity).
 */
export async function putLabelerRecord(agent: AtpAgent, communities: readonly CommunityNaming[]): Promise<LabelerRecordResult> {
  const repo = agent.session?.did;
  if (repo === undefined) throw new Error('not logged in');
  const policies = labelerPolicies(communities);
  const existing = await agent.com.atproto.repo
    .getRecord({ repo, collection: Nsid.labelerService, rkey: 'self' })
    .then(({ data }) => data.value as { policies?: LabelerPolicies; createdAt?: string })
    .catch(() => undefined);
  const uri = `at://${repo}/${Nsid.labelerService}/self`;
  if (existing && isDeepStrictEqual(existing.policies, policies)) return { uri, written: false, labelValues: policies.labelValues };
  await agent.com.atproto.repo.putRecord({
    repo,
    collection: Nsid.labelerService,
    rkey: 'self',
    record: { $type: Nsid.labelerService, policies, createdAt: existing?.createdAt ?? new Date().toISOString() },
  });
  return { uri, written: true, labelValues: policies.labelValues };
}
