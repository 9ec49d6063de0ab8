import { Body, Controller, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { z } from 'zod';
import { encodeMessage, InteractionEvents, Topics, type FeedbackEventV1, type InteractionEvent, type MessageBus } from '#lib/contracts';
import { isValidAtUri } from '@atproto/syntax';
import { Nsid, parseAtUri } from '#lib/domain';
import { MESSAGE_BUS, Metrics } from '#lib/platform';
import { ServiceAuthVerifier } from '../auth/service-auth.verifier.js';
import { ServablePosts } from '../feeds/servable-posts.js';
import { ViewerFeedbackStore } from '../feeds/viewer-feedback.store.js';
import { RateLimitExceededError, ViewerRateLimiter } from './viewer-rate-limiter.js';
import { parseBody } from './request-input.js';

const EVENT_PREFIX = 'app.bsky.feed.defs#';
const MAX_INTERACTIONS = 1_000;
/** Longer than any event value of the lexicon, by far; an unknown value is ignored, a longer one refused. */
const MAX_EVENT = 200;
const knownEvents = new Set<string>(InteractionEvents);

const atUri = z.string({ invalid_type_error: 'must be an at-uri' }).refine((value) => isValidAtUri(value), 'must be an at-uri');
/**
 * @NOTE An unpaired surrogate (`"\ud800"` in the JSON) is replaced with U+FFFD rather than
 * refused: the feedback topic takes well-formed strings only (ClickHouse refuses the others'
 * inserts whole), and a `feedContext` or `reqId` is opaque text we gave the client, whose repair
 * matches no context we issued, as any text we did not issue. Refusing it would cost the client
 * its whole batch, which an item we cannot use never does here.
 */
const optionalText = (max: number) =>
  z
    .string({ invalid_type_error: `must be a string of at most ${max} bytes` })
    // The lexicon's maxLength counts UTF-8 bytes, as the atproto XRPC server does.
    .refine((value) => Buffer.byteLength(value, 'utf8') <= max, `must be a string of at most ${max} bytes`)
    .optional()
    .transform((value) => value?.toWellFormed() ?? null);

/** The lexicon's input, with our bounds. */
const SendInteractionsInput = z.object(
  {
    feed: atUri.optional().transform((value) => value ?? null),
    interactions: z
      .array(
        z.object(
          {
            // Both optional in the lexicon: an interaction without them is dropped, not refused.
            item: atUri.optional(),
            event: optionalText(MAX_EVENT),
            feedContext: optionalText(2000),
            reqId: optionalText(100),
          },
          { invalid_type_error: 'must be an object' },
        ),
        { invalid_type_error: 'must be an array' },
      )
      .max(MAX_INTERACTIONS, `must not have more than ${MAX_INTERACTIONS} elements`),
  },
  { invalid_type_error: 'must be an object' },
);

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
    const input = parseBody(SendInteractionsInput, body);
    const timeUs = Date.now() * 1000;
    const known = input.interactions.flatMap(({ event: value, item, ...rest }) => {
      const event = value?.startsWith(EVENT_PREFIX) ? value.slice(EVENT_PREFIX.length) : '';
      return knownEvents.has(event) ? [{ ...rest, item, event: event as InteractionEvent }] : [];
    });
    // Posts are named by their author's DID here: an item named otherwise (a handle) is not one we served.
    const posts = known.flatMap(({ item, ...rest }) => (item !== undefined && parseAtUri(item)?.collection === Nsid.post ? [{ ...rest, item }] : []));
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

