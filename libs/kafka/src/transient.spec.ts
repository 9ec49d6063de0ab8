import { createRequire } from 'node:module';
import { isTransient } from './transient.js';

const require = createRequire(import.meta.url);

describe('which Kafka failures are tried again', () => {
  it('takes a broker going away in the middle of a request, which kafkajs throws as a TypeError of its own, for a passing failure', async () => {
    // kafkajs's metadata parsing handed the null a disconnect leaves behind, as its admin does then.
    const { parse } = require('kafkajs/src/protocol/requests/metadata/v0/response.js') as { parse: (data: unknown) => Promise<unknown> };
    const inside = await parse(null).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(inside).toBeInstanceOf(TypeError);
    expect(isTransient(inside)).toBe(true);
    expect(isTransient(new Error('creating topics failed', { cause: inside }))).toBe(true);
  });

  it('fails at once on a TypeError of our own, and on a broker refusal that no retry changes', () => {
    const ours = (() => {
      try {
        (null as unknown as { topicMetadata: unknown[] }).topicMetadata.map(String);
      } catch (error) {
        return error;
      }
    })();
    expect(ours).toBeInstanceOf(TypeError);
    expect(isTransient(ours)).toBe(false);
    expect(isTransient(Object.assign(new Error('Replication factor is larger than the brokers'), { name: 'KafkaJSProtocolError', retriable: false }))).toBe(false);
    expect(isTransient(Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' }))).toBe(true);
  });
});
