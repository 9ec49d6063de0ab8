import type { DidDocument } from '@atproto/identity';
import { waitFor } from '#lib/testing';
import { VerifiedHandleResolver, type VerifiedHandleResolverOptions } from './verified-handle.resolver.js';

const carol = 'did:plc:carol00000000000000000000';
const mallory = 'did:plc:mallory00000000000000000';
const docOf = (did: string, handle: string): DidDocument => ({ id: did, alsoKnownAs: [`at://${handle}`] });

/** What the domains and the PLC directory answer, changeable by a test, with the questions asked. */
function world() {
  const domains = new Map<string, string>();
  const documents = new Map<string, DidDocument>();
  const asked: string[] = [];
  let failing = false;
  return {
    domains,
    documents,
    asked,
    fail(on: boolean) {
      failing = on;
    },
    lookups: {
      handles: {
        resolve: async (handle: string) => {
          asked.push(handle);
          if (failing) throw new Error('DNS is down');
          return domains.get(handle);
        },
      },
      dids: { resolve: async (did: string) => documents.get(did) ?? null },
    },
  };
}

const resolverOf = (lookups: Pick<VerifiedHandleResolverOptions, 'handles' | 'dids'>, ttls: { verifiedTtlMs?: number; unverifiedTtlMs?: number } = {}) =>
  new VerifiedHandleResolver({ ...lookups, verifiedTtlMs: 60_000, unverifiedTtlMs: 60_000, maxHandles: 100, concurrency: 2, ...ttls });

describe('curated handles resolved to verified DIDs', () => {
  it('keeps a handle whose domain names a DID whose document names the handle back, and no other', async () => {
    const w = world();
    w.domains.set('carol.test', carol);
    w.documents.set(carol, docOf(carol, 'Carol.test'));
    // Mallory's document claims carol.test and frank.test; neither domain names her.
    w.documents.set(mallory, docOf(mallory, 'carol.test'));
    w.domains.set('frank.test', carol);
    w.domains.set('ghost.test', 'did:plc:nobody000000000000000000');
    const resolver = resolverOf(w.lookups);
    expect(await resolver.resolve(['carol.test', 'frank.test', 'ghost.test', 'unknown.test'])).toEqual([carol]);
  });

  it('asks once per handle within its TTL, then re-resolves while serving the previous answer', async () => {
    const w = world();
    w.domains.set('carol.test', carol);
    w.documents.set(carol, docOf(carol, 'carol.test'));
    const resolver = resolverOf(w.lookups, { verifiedTtlMs: 200 });
    expect(await resolver.resolve(['carol.test'])).toEqual([carol]);
    expect(await resolver.resolve(['carol.test'])).toEqual([carol]);
    expect(w.asked).toEqual(['carol.test']);

    // Carol moves her handle away: after the TTL the old answer serves once, then the new one.
    w.documents.set(carol, docOf(carol, 'carol.example.com'));
    await waitFor('the TTL to pass', async () => (await resolver.resolve(['carol.test'])).length === 0, 10_000);
    expect(w.asked.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps the previous answer when a re-resolution fails, and tries an unverified handle again after its own TTL', async () => {
    const w = world();
    w.domains.set('carol.test', carol);
    w.documents.set(carol, docOf(carol, 'carol.test'));
    const errors: string[] = [];
    const resolver = new VerifiedHandleResolver({
      ...w.lookups,
      verifiedTtlMs: 100,
      unverifiedTtlMs: 100,
      maxHandles: 100,
      concurrency: 2,
      onError: (handle) => errors.push(handle),
    });
    expect(await resolver.resolve(['carol.test', 'later.test'])).toEqual([carol]);

    w.fail(true);
    await waitFor('a failed re-resolution', async () => (await resolver.resolve(['carol.test'])).length === 1 && errors.length > 0, 10_000);
    expect(await resolver.resolve(['carol.test'])).toEqual([carol]);

    w.fail(false);
    w.domains.set('later.test', mallory);
    w.documents.set(mallory, docOf(mallory, 'later.test'));
    await waitFor('later.test verified on a later try', async () => (await resolver.resolve(['later.test'])).includes(mallory), 10_000);
  });
});
