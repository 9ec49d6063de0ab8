import { Body, Controller, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { encodeMessage, InteractionEvents, Topics, type FeedbackEventV1, type InteractionEvent, type MessageBus } from '#lib/contracts';
import { Nsid, parseAtUri } from '#lib/domain';
import { MESSAGE_BUS, Metrics } from '#lib/platform';
import { ServiceAuthVerifier } from '../auth/service-auth.verifier.js';
import { ServablePosts } from '../feeds/servable-posts.js';
import { ViewerFeedbackStore } from '../feeds/viewer-feedback.store.js';
import { RateLimitExceededError, ViewerRateLimiter } from './viewer-rate-limiter.js';
import { InvalidRequestError } from './xrpc.errors.js';

const EVENT_PREFIX = 'app.bsky.feed.defs#';
const MAX_INTERACTIONS = 1_000;
const knownEvents = new Set<string>(InteractionEvents);

interface InteractionInput {
  item?: unknown;
  event?: unknown;
  feedContext?: unknown;
  reqId?: unknown;
}

/**
 * `app.bsky.feed.sendInteractions`: feedback from the viewer's client (through the PDS with the
 * `atproto-proxy` header). Authenticated and rate-limited per viewer; every known event about a
 * post we served or could serve is published on the feedback topic and answered once the bus
 * acknowledged it, and the viewer's own feed answers it from their next page (`ViewerFeedbackStore`). Unknown event values are valid per the lexicon (open set of known values) and
 * are ignored; items that are not such posts are dropped (and counted), not refused, so that one
 * stale item does not cost the client the rest of its batch.
 */
@Controller()
export class SendInteractionsController {
  constructor(
    private readonly auth: ServiceAuthVerifier,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly limiter: ViewerRateLimiter,
    private readonly servable: ServablePosts,
    private readonly viewerFeedback: ViewerFeedbackStore,
    private readonly metrics: Metrics,
  ) {}

  @Post(`xrpc/${Nsid.sendInteractions}`)
  @HttpCode(200)
  async sendInteractions(@Body() body: unknown, @Headers('authorization') authorization?: string): Promise<Record<string, never>> {
    const viewer = await this.auth.verifyViewer(authorization, Nsid.sendInteractions);
    try {
      this.limiter.take(viewer.did);
    } catch (error) {
      if (error instanceof RateLimitExceededError) this.metrics.interactionsRateLimited.inc();
      throw error;
    }
    const input = parseInput(body);
    const timeUs = Date.now() * 1000;
    const known = input.interactions.flatMap((interaction) => {
      const event = interaction.event.startsWith(EVENT_PREFIX) ? interaction.event.slice(EVENT_PREFIX.length) : '';
      return knownEvents.has(event) ? [{ ...interaction, event: event as InteractionEvent }] : [];
    });
    const posts = known.filter((interaction) => parseAtUri(interaction.item)?.collection === Nsid.post);
    const servable = await this.servable.servable(posts.map((interaction) => interaction.item));
    const accepted = posts.filter((interaction) => servable.has(interaction.item));
    if (known.length > posts.length) this.metrics.interactionsDropped.inc({ reason: 'not-a-post' }, known.length - posts.length);
    if (posts.length > accepted.length) this.metrics.interactionsDropped.inc({ reason: 'not-servable' }, posts.length - accepted.length);
    const events: FeedbackEventV1[] = [];
    for (const interaction of accepted) {
      events.push({
        v: 1,
        type: 'feedback',
        viewer: viewer.did,
        feed: input.feed,
        item: interaction.item,
        event: interaction.event,
        feedContext: interaction.feedContext,
        reqId: interaction.reqId,
        timeUs,
      });
    }
    if (events.length > 0) {
      await this.bus.publish(Topics.feedback, events.map((event) => ({ key: event.viewer, value: encodeMessage(event) })));
      // The viewer's next page on this replica already answers it; other replicas learn it from the bus.
      this.viewerFeedback.apply(events);
    }
    return {};
  }
}

function parseInput(body: unknown): {
  feed: string | null;
  interactions: { item: string; event: string; feedContext: string | null; reqId: string | null }[];
} {
  if (typeof body !== 'object' || body === null) throw new InvalidRequestError('Input must be an object');
  const { feed, interactions } = body as { feed?: unknown; interactions?: unknown };
  if (feed !== undefined && (typeof feed !== 'string' || !parseAtUri(feed))) throw new InvalidRequestError('Input/feed must be an at-uri');
  if (!Array.isArray(interactions)) throw new InvalidRequestError('Input must have the property "interactions"');
  if (interactions.length > MAX_INTERACTIONS) throw new InvalidRequestError(`Input/interactions must not have more than ${MAX_INTERACTIONS} elements`);
  return {
    feed: (feed) ?? null,
    interactions: interactions.map((value: InteractionInput, index) => {
      if (typeof value !== 'object' || value === null) throw new InvalidRequestError(`Input/interactions/${index} must be an object`);
      if (typeof value.item !== 'string' || !parseAtUri(value.item)) throw new InvalidRequestError(`Input/interactions/${index}/item must be an at-uri`);
      if (typeof value.event !== 'string') throw new InvalidRequestError(`Input/interactions/${index}/event must be a string`);
      if (value.feedContext !== undefined && (typeof value.feedContext !== 'string' || value.feedContext.length > 2000)) {
        throw new InvalidRequestError(`Input/interactions/${index}/feedContext must be a string of at most 2000 characters`);
      }
      if (value.reqId !== undefined && (typeof value.reqId !== 'string' || value.reqId.length > 100)) {
        throw new InvalidRequestError(`Input/interactions/${index}/reqId must be a string of at most 100 characters`);
      }
      return {
        item: value.item,
        event: value.event,
        feedContext: (value.feedContext) ?? null,
        reqId: (value.reqId) ?? null,
      };
    }),
  };
}
