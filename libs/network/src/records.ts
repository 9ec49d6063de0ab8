import { AtpAgent } from '@atproto/api';
import { isDeepStrictEqual } from 'node:util';
import { Nsid } from '#lib/domain';
import { labelerPolicies, type CommunityNaming, type LabelerPolicies } from '#lib/labels';
import { boundedFetch } from './network.reader.js';

/** A request to a PDS that takes longer is abandoned; an answer larger is refused (a page of records or a service record with hundreds of communities is far below). */
const PDS_TIMEOUT_MS = 10_000;
const PDS_ANSWER_MAX_BYTES = 4 * 1024 * 1024;

/** `fetch` for the services' own writes to a PDS, bounded in time and size (the command-line tools wait as long as it takes). */
export const pdsFetch = (): typeof globalThis.fetch => boundedFetch(PDS_TIMEOUT_MS, PDS_ANSWER_MAX_BYTES);

/** The password given logs in as another account than the one the configuration names. */
export class AccountMismatchError extends Error {
  override name = 'AccountMismatchError';
}

/**
 * An agent logged in at `service` as `account` (a DID or handle) with `password`, which must be
 * the account `did` names when it is given: records written under the wrong account would name a
 * service nobody finds.
 */
export async function loginAs(service: string, account: string, password: string, options: { did?: string; what?: string; fetch?: typeof globalThis.fetch } = {}): Promise<AtpAgent> {
  const agent = new AtpAgent({ service, ...(options.fetch && { fetch: options.fetch }) });
  await agent.login({ identifier: account, password });
  const did = agent.session!.did;
  if (options.did !== undefined && did !== options.did) throw new AccountMismatchError(`the account ${account} is ${did}, but ${options.what ?? 'the configuration'} is ${options.did}`);
  return agent;
}

/** The value of a record in the repository `agent` is logged in to; undefined when there is none (the PDS answers 400 RecordNotFound). */
export async function existingRecord(agent: AtpAgent, collection: string, rkey: string): Promise<Record<string, unknown> | undefined> {
  try {
    const { data } = await agent.com.atproto.repo.getRecord({ repo: agent.session!.did, collection, rkey });
    return data.value;
  } catch (error) {
    if ((error as { status?: number }).status === 400 || (error as { error?: string }).error === 'RecordNotFound') return undefined;
    throw error;
  }
}

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
  const repo = agent.session!.did;
  const policies = labelerPolicies(communities);
  const existing = (await existingRecord(agent, Nsid.labelerService, 'self')) as
    | { policies?: LabelerPolicies; subjectTypes?: unknown; reasonTypes?: unknown; createdAt?: string }
    | undefined;
  const uri = `at://${repo}/${Nsid.labelerService}/self`;
  const declared = existing && isDeepStrictEqual(existing.policies, policies) && isDeepStrictEqual(existing.subjectTypes, []) && isDeepStrictEqual(existing.reasonTypes, []);
  if (declared) return { uri, written: false, labelValues: policies.labelValues };
  await agent.com.atproto.repo.putRecord({
    repo,
    collection: Nsid.labelerService,
    rkey: 'self',
    // @NOTE No reports: our labels come from rankings, and the service answers no
    // `createReport`. Left out, the lexicon reads these as "every subject and reason", and the
    // Bluesky app offers the labeler in its report dialog; empty, it offers none.
    record: { $type: Nsid.labelerService, policies, subjectTypes: [], reasonTypes: [], createdAt: existing?.createdAt ?? new Date().toISOString() },
  });
  return { uri, written: true, labelValues: policies.labelValues };
}
