import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapJetstreamEvent, parseAtUri, type JetstreamEvent } from '#lib/domain';
import { RawLine, readJsonl } from './jsonl.js';
import { generateCid, generateDidPlc, generateJetstreamEvents, mulberry32, tid } from './synthetic-events.js';

const startUs = 1_732_000_000_000_000;
const communities = [
  { name: 'Urbanists', members: 300, tags: ['urbanism', 'transit'] },
  { name: 'Gardeners', members: 250, langs: ['en', 'de'] },
  { name: 'Climate', members: 200 },
];

describe('identifier generators', () => {
  it('produce real-looking DIDs, TIDs and CIDs', () => {
    const rng = mulberry32(7);
    expect(generateDidPlc(rng)).toMatch(/^did:plc:[a-z2-7]{24}$/);
    expect(generateCid(rng)).toMatch(/^bafyrei[a-z2-7]{52}$/);
    expect(generateCid(rng, 'raw')).toMatch(/^bafkrei[a-z2-7]{52}$/);
    const earlier = tid(startUs, 5);
    const later = tid(startUs + 1, 0);
    expect(earlier).toMatch(/^[234567a-j][234567a-z]{12}$/);
    expect(earlier < later).toBe(true);
    // A TID minted in late 2024 starts with "3l", like real ones.
    expect(earlier.slice(0, 2)).toBe('3l');
  });
});

describe('generateJetstreamEvents', () => {
  it('is deterministic for a seed', () => {
    const a = generateJetstreamEvents({ seed: 42, users: 200, events: 2000, startUs, communities });
    const b = generateJetstreamEvents({ seed: 42, users: 200, events: 2000, startUs, communities });
    const c = generateJetstreamEvents({ seed: 43, users: 200, events: 2000, startUs, communities });
    expect(JSON.stringify(a.events)).toBe(JSON.stringify(b.events));
    expect(JSON.stringify(a.events)).not.toBe(JSON.stringify(c.events));
  });

  it('generates 200,000 events in a few seconds, in strictly increasing time_us order', () => {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const generated = generateJetstreamEvents({ seed: 1, users: 20_000, events: 200_000, startUs, communities, malformedEvery: 1000 });
    const cpu = process.cpuUsage(cpuBefore);
    const elapsedMs = performance.now() - started;
    expect(generated.events).toHaveLength(200_000);
    // @NOTE CPU time, not wall time: the test machine is shared, and wall time varies with its load.
    const cpuMs = (cpu.user + cpu.system) / 1000;
    expect(cpuMs).toBeLessThan(6000);
    let previous = 0;
    let outOfOrder = 0;
    for (const item of generated.events) {
      const timeUs = item instanceof RawLine ? item.timeUs! : item.time_us;
      if (!(timeUs > previous)) outOfOrder += 1;
      previous = timeUs;
    }
    expect(outOfOrder).toBe(0);
    expect(generated.endUs).toBe(previous);
    expect(previous - startUs).toBeLessThanOrEqual(3600 * 1_000_000);
    process.stdout.write(`generated 200k synthetic events in ${elapsedMs.toFixed(0)} ms (${cpuMs.toFixed(0)} ms CPU)\n`);
  });

  it('reports ground-truth counts that the mapping reproduces exactly', () => {
    const generated = generateJetstreamEvents({ seed: 3, users: 2000, events: 50_000, startUs, communities, malformedEvery: 500 });
    const { counts } = generated;
    const outcomes = { event: 0, skip: 0, malformed: 0 };
    const byType: Record<string, number> = {};
    for (const item of generated.events) {
      let raw: unknown;
      try {
        raw = item instanceof RawLine ? JSON.parse(item.text) : item;
      } catch {
        outcomes.malformed += 1;
        continue;
      }
      const mapped = mapJetstreamEvent(raw);
      outcomes[mapped.kind] += 1;
      if (mapped.kind === 'event') {
        const key = `${mapped.event.type}:${'op' in mapped.event ? mapped.event.op : '-'}`;
        byType[key] = (byType[key] ?? 0) + 1;
      }
    }
    expect(outcomes).toEqual({ event: counts.mappable, skip: counts.other, malformed: counts.malformed });
    expect(counts.total).toBe(50_000);
    expect(counts.malformed).toBe(100);
    expect(byType['post:create']).toBe(counts.post + counts.reply + counts.quote);
    expect(byType['like:create']).toBe(counts.like);
    expect(byType['repost:create']).toBe(counts.repost);
    expect(byType['follow:create']).toBe(counts.follow);
    expect(byType['block:create']).toBe(counts.block);
    expect(byType['listitem:create']).toBe(counts.listitem);
    expect(byType['post:delete'] ?? 0).toBe(counts.deletes.post);
    expect(byType['like:delete'] ?? 0).toBe(counts.deletes.like);
    expect(byType['account:-']).toBe(counts.account);
    expect(byType['identity:-']).toBe(counts.identity);

    // The requested mix, within sampling noise (fallbacks turn a few early likes/deletes into posts).
    const share = (n: number): number => n / counts.total;
    expect(share(counts.like)).toBeGreaterThan(0.33);
    expect(share(counts.like)).toBeLessThan(0.37);
    expect(share(counts.post)).toBeGreaterThan(0.09);
    expect(share(counts.post)).toBeLessThan(0.12);
    expect(share(counts.deleteTotal)).toBeGreaterThan(0.025);
    expect(share(counts.other)).toBeGreaterThan(0.2);
    expect([...generated.inactive.values()]).toContain('takendown');
  });

  it('makes activity and popularity heavy-tailed, and keeps replies, quotes and deletes consistent', () => {
    const generated = generateJetstreamEvents({ seed: 9, users: 5000, events: 60_000, startUs, communities });
    const commits = generated.events.filter((e): e is JetstreamEvent & { kind: 'commit' } => !(e instanceof RawLine) && e.kind === 'commit');
    const created = new Set<string>();
    const likesPerPost = new Map<string, number>();
    const eventsPerUser = new Map<string, number>();
    for (const event of commits) {
      eventsPerUser.set(event.did, (eventsPerUser.get(event.did) ?? 0) + 1);
      const { commit } = event;
      const uri = `at://${event.did}/${commit.collection}/${commit.rkey}`;
      if (commit.operation === 'delete') {
        // Deletes remove a record created earlier in the stream, by the same repo.
        expect(created.has(uri)).toBe(true);
        created.delete(uri);
        continue;
      }
      if (commit.collection === 'app.bsky.feed.post') {
        const record = commit.record as { reply?: { root: { uri: string }; parent: { uri: string } }; embed?: { $type: string; record?: { uri?: string; record?: { uri: string } } } };
        if (record.reply) {
          expect(parseAtUri(record.reply.root.uri)).not.toBeNull();
          expect(parseAtUri(record.reply.parent.uri)).not.toBeNull();
        }
      }
      if (commit.collection === 'app.bsky.feed.like') {
        const subject = (commit.record as { subject: { uri: string } }).subject.uri;
        likesPerPost.set(subject, (likesPerPost.get(subject) ?? 0) + 1);
      }
      if (commit.operation === 'create') created.add(uri);
    }
    const likeCounts = [...likesPerPost.values()].sort((a, b) => b - a);
    const userCounts = [...eventsPerUser.values()].sort((a, b) => b - a);
    // Top 1% of liked posts get far more than their share of likes; same for the most active users.
    const topShare = (values: number[]): number => {
      const top = values.slice(0, Math.max(1, Math.floor(values.length / 100)));
      return top.reduce((a, b) => a + b, 0) / values.reduce((a, b) => a + b, 0);
    };
    expect(topShare(likeCounts)).toBeGreaterThan(0.1);
    expect(topShare(userCounts)).toBeGreaterThan(0.1);
    expect(generated.bridgingPosts.length).toBeGreaterThan(0);
    expect(generated.communities.map((c) => c.members.length)).toEqual([300, 250, 200]);
  });

  it('round-trips through JSONL, malformed lines included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synthetic-'));
    try {
      const generated = generateJetstreamEvents({ seed: 5, users: 100, events: 1000, startUs, malformedEvery: 100 });
      const path = join(dir, 'events.jsonl');
      const written = await generated.writeJsonl(path);
      expect(written.lines).toBe(1000);
      const read: unknown[] = [];
      for await (const value of readJsonl(path)) read.push(value);
      expect(read).toHaveLength(1000);
      expect(read.filter((value) => value instanceof RawLine)).toHaveLength(generated.counts.malformedByVariant['not-json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
