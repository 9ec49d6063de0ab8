import type { ICustomPartitioner } from 'kafkajs';

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`), in 32-bit integer arithmetic. kafkajs's own
 * copy multiplies through a 64-bit `Long` per step, which made partitioning the largest cost of
 * a produce request.
 */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partitioner of every producer: a message's explicit partition if it has one, else
 * `murmur2(key) mod partitions` (the partition the Java client and kafkajs's default partitioner
 * choose, so other producers of the same keys agree), else round-robin over partitions with a
 * leader.
 */
export const keyPartitioner: ICustomPartitioner = () => {
  let counter = 0;
  return ({ partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) return partitionOfKey(message.key, partitionMetadata.length);
    const available = partitionMetadata.filter((partition) => partition.leader >= 0);
    const pool = available.length > 0 ? available : partitionMetadata;
    counter = (counter + 1) & 0x7fffffff;
    return pool[counter % pool.length]!.partitionId;
  };
};

/** The partition Kafka's clients place `key` on, out of `partitions`: `murmur2(key) mod partitions`. */
export function partitionOfKey(key: string | Buffer, partitions: number): number {
  return (keyHash(key) & 0x7fffffff) % partitions;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** murmur2 of a message key: of its UTF-8 bytes when a string (encoded into a reused buffer). */
export function keyHash(key: string | Buffer): number {
  if (typeof key !== 'string') return murmur2(key);
  if (key.length * 3 > scratch.length) scratch = new Uint8Array(key.length * 3);
  return murmur2(scratch, encoder.encodeInto(key, scratch).written);
}
