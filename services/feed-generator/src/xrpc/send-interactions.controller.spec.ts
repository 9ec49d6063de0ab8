import { decodeFeedbackEvent, type MessageBus, type OutgoingMessage } from '#lib/contracts';
import { Metrics } from '#lib/platform';
import type { ServiceAuthVerifier } from '../auth/service-auth.verifier.js';
import type { ServablePosts } from '../feeds/servable-posts.js';
import type { ViewerFeedbackStore } from '../feeds/viewer-feedback.store.js';
import { SendInteractionsController } from './send-interactions.controller.js';
import type { ViewerRateLimiter } from './viewer-rate-limiter.js';

const viewer = 'did:plc:viewer';
const post = 'at://did:plc:author/app.bsky.feed.post/3kpost';

/** The controller over a bus that keeps what it is given; every post is servable. */
function controllerAndPublished() {
  const published: OutgoingMessage[] = [];
  const bus = { publish: async (_topic: string, messages: OutgoingMessage[]) => void published.push(...messages) } as unknown as MessageBus;
  const controller = new SendInteractionsController(
    { verifyViewer: async () => ({ did: viewer }) } as unknown as ServiceAuthVerifier,
    bus,
    { take: () => undefined } as unknown as ViewerRateLimiter,
    { servable: async (uris: readonly string[]) => new Set(uris) } as unknown as ServablePosts,
    { apply: () => undefined } as unknown as ViewerFeedbackStore,
    new Metrics({ processMetrics: false }),
  );
  return { controller, published };
}

describe('sendInteractions and text that is not well-formed', () => {
  it('keeps an interaction whose feedContext or reqId holds an unpaired surrogate, with it replaced, so the feedback consumer stores it', async () => {
    const { controller, published } = controllerAndPublished();
    // As a client's JSON body arrives: the escape of half an emoji.
    const body = JSON.parse(
      JSON.stringify({
        interactions: [
          { item: post, event: 'app.bsky.feed.defs#requestMore', feedContext: 'climate\ud83d', reqId: '\udfffreq' },
          { item: post, event: 'app.bsky.feed.defs#requestLess', feedContext: 'a whole emoji \ud83d\ude00' },
        ],
      }),
    ) as unknown;
    await controller.sendInteractions(body, 'Bearer token');
    const decoded = published.map((message) => decodeFeedbackEvent(message.value));
    expect(decoded.map(({ event, feedContext, reqId }) => ({ event, feedContext, reqId }))).toEqual([
      { event: 'requestMore', feedContext: 'climate\ufffd', reqId: '\ufffdreq' },
      { event: 'requestLess', feedContext: 'a whole emoji 😀', reqId: null },
    ]);
  });
});
