import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { InProcessBus } from '#lib/bus';
import { decodeFeedbackEvent, encodeMessage, Topics, type FeedbackEventV1 } from '#lib/contracts';
import type { Logger } from '#lib/platform';
import { ImpressionRecorder } from './impression.recorder.js';

const silent = { child: () => silent, warn: () => undefined } as unknown as Logger;

describe('ImpressionRecorder', () => {
  const buses: InProcessBus[] = [];
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
  });

  const start = () => {
    const bus = new InProcessBus({ retainedTopics: [Topics.feedback] });
    buses.push(bus);
    return { bus, recorder: new ImpressionRecorder(bus, silent) };
  };

  it('publishes one feedback event per served post, encoded exactly as encodeMessage would, and hands a consumer in the process the event itself', async () => {
    const { bus, recorder } = start();
    jest.spyOn(Date, 'now').mockReturnValue(1_763_000_000_123);
    const viewer = 'did:plc:viewer0000000000000000000';
    const feed = 'at://did:plc:publisher00000000000000/app.bsky.feed.generator/bridging';
    const posts = ['at://did:plc:author/app.bsky.feed.post/3l1', 'at://did:plc:author/app.bsky.feed.post/3l"\\\u00e9\u2028'];
    recorder.record(viewer, feed, posts, 'req-"1"');
    await recorder.flush();

    const published = bus.retained(Topics.feedback).messages;
    const expected: FeedbackEventV1[] = posts.map((item) => ({
      v: 1,
      type: 'feedback',
      viewer,
      feed,
      item,
      event: 'impression',
      feedContext: null,
      reqId: 'req-"1"',
      timeUs: 1_763_000_000_123_000,
    }));
    expect(published.map((message) => message.value)).toEqual(expected.map(encodeMessage));
    expect(published.map((message) => message.key)).toEqual([viewer, viewer]);
    expect(decodeFeedbackEvent(published[0]!.value)).toEqual(expected[0]);
    // A consumer in the process is handed the event itself: what decoding the value would give.
    expect(published.map((message) => message.decoded)).toEqual(expected);
    expect({ recorded: recorder.recorded, published: recorder.published, dropped: recorder.dropped }).toEqual({ recorded: 2, published: 2, dropped: 0 });
  });

  it('publishes as soon as a full batch is buffered, without waiting for the timer, so a busy feed drops nothing', async () => {
    const { bus, recorder } = start();
    const posts = Array.from({ length: 50 }, (_, i) => `at://did:plc:author/app.bsky.feed.post/3l${i}`);
    // 4 000 pages of 50 (200 000 impressions, twice the buffer bound) within one timer interval.
    for (let i = 0; i < 4_000; i += 1) {
      recorder.record('did:plc:viewer', 'at://did:plc:p/app.bsky.feed.generator/f', posts, `r${i}`);
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    await recorder.flush();
    expect(recorder.dropped).toBe(0);
    expect(recorder.published).toBe(200_000);
    expect(bus.retained(Topics.feedback).dropped + bus.retained(Topics.feedback).messages.length).toBe(200_000);
  });

  it('publishes a large backlog in batches, letting the event loop run between them', async () => {
    const { bus, recorder } = start();
    const posts = Array.from({ length: 50 }, (_, i) => `at://did:plc:author/app.bsky.feed.post/3l${i}`);
    for (let i = 0; i < 300; i += 1) recorder.record('did:plc:viewer', 'at://did:plc:p/app.bsky.feed.generator/f', posts, `r${i}`);
    // An I/O-phase callback queued now runs before the flush ends only if the flush yields.
    let publishedWhenOtherWorkRan = -1;
    setImmediate(() => (publishedWhenOtherWorkRan = recorder.published));
    await recorder.flush();
    expect(recorder.published).toBe(15_000);
    expect(bus.retained(Topics.feedback).messages.length + bus.retained(Topics.feedback).dropped).toBe(15_000);
    expect(publishedWhenOtherWorkRan).toBeGreaterThanOrEqual(0);
    expect(publishedWhenOtherWorkRan).toBeLessThan(15_000);
  });

  it('holds at most 100 000 impressions while the bus fails, dropping the oldest exactly, and publishes the rest once it answers', async () => {
    const { bus, recorder } = start();
    const publish = jest.spyOn(bus, 'publish').mockRejectedValue(new Error('broker unreachable'));
    const posts = Array.from({ length: 100 }, (_, i) => `at://did:plc:author/app.bsky.feed.post/3l${i}`);
    const feed = 'at://did:plc:p/app.bsky.feed.generator/f';
    // A page of 70, 2 100 pages of 50 and one of 30: 105 100 impressions, 5 100 beyond the bound.
    recorder.record('did:plc:viewer', feed, posts.slice(0, 70), 'first');
    // The failed publish holds further ones off until the timer's next try: the buffer fills up.
    await recorder.flush();
    for (let i = 0; i < 2_100; i += 1) recorder.record('did:plc:viewer', feed, posts.slice(0, 50), `r${i}`);
    recorder.record('did:plc:viewer', feed, posts.slice(0, 30), 'last');
    expect({ recorded: recorder.recorded, dropped: recorder.dropped, published: recorder.published }).toEqual({ recorded: 105_100, dropped: 5_100, published: 0 });

    const published: string[] = [];
    publish.mockImplementation(async (_topic, messages) => void published.push(...messages.map((message) => message.value)));
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 2_000);
    await recorder.flush();
    expect({ published: recorder.published, sent: published.length }).toEqual({ published: 100_000, sent: 100_000 });
    // Gone: the first page, pages r0…r99, and the first 30 posts of page r100 (dropped in part).
    expect(decodeFeedbackEvent(published[0]!)).toMatchObject({ item: posts[30], reqId: 'r100' });
    expect(decodeFeedbackEvent(published.at(-1)!)).toMatchObject({ item: posts[29], reqId: 'last' });
  });
});
