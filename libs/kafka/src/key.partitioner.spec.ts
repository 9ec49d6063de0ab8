import { createRequire } from 'node:module';
import { keyPartitioner, murmur2, partitionOfKey } from './key.partitioner.js';

// kafkajs's own murmur2 (Java-compatible, through 64-bit Longs): the reference ours must equal.
const reference = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: string | Buffer) => number;
const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0, offlineReplicas: [] }));

describe('key partitioner', () => {
  it('hashes exactly like the Java client for keys of every length and byte value', () => {
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 2_000; n++) {
      const bytes = Buffer.from(Array.from({ length: n % 67 }, () => Math.floor(random() * 256)));
      expect(murmur2(bytes)).toBe(reference(bytes));
    }
    // Published values of the Java client's Utils.murmur2.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
  });

  it('sends a DID to the partition kafkajs and the Java client choose, and keeps explicit partitions', () => {
    const partition = keyPartitioner();
    for (const did of ['did:plc:ewvi7nxzyoun6zhxrhs64oiz', 'did:web:example.com', 'did:plc:é-unicode-ünd-emoji-🙂']) {
      const expected = (reference(did) & 0x7fffffff) % partitionMetadata.length;
      expect(partition({ topic: 't', partitionMetadata, message: { key: did, value: 'x' } })).toBe(expected);
      expect(partition({ topic: 't', partitionMetadata, message: { key: Buffer.from(did), value: 'x' } })).toBe(expected);
    }
    expect(partition({ topic: 't', partitionMetadata, message: { key: 'k', value: 'x', partition: 4 } })).toBe(4);
  });

  it('places a feed on the partition a producer would send its URI to (the rankers\' share of the feeds)', () => {
    for (const feed of ['at://did:plc:publisher/app.bsky.feed.generator/common', 'at://did:web:example.com/app.bsky.feed.generator/é']) {
      for (const partitions of [1, 6, 12, 1024]) expect(partitionOfKey(feed, partitions)).toBe((reference(feed) & 0x7fffffff) % partitions);
    }
  });

  it('spreads messages without a key over the partitions that have a leader', () => {
    const partition = keyPartitioner();
    const metadata = partitionMetadata.map((p) => (p.partitionId === 2 ? { ...p, leader: -1 } : p));
    const chosen = new Set(Array.from({ length: 60 }, () => partition({ topic: 't', partitionMetadata: metadata, message: { value: 'x' } })));
    expect([...chosen].sort()).toEqual([0, 1, 3, 4, 5]);
  });
});
