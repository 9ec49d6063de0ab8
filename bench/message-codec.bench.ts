/**
 * Message decoding benchmark: how many bus messages per second one core decodes and validates,
 * the work scoring does for every message before it writes. A realistic mix: posts, likes,
 * reposts, follows, deletes and feedback events.
 *
 *     npm run bench:codec          (CODEC_MESSAGES=400000, CODEC_ROUNDS=8 by default; the best round printed)
 */
import {
  decodeFeedbackEvent,
  decodePipelineEvent,
  encodeMessage,
  FeedbackEventSchema,
  PipelineEventSchema,
  type FeedbackEventV1,
  type PipelineEventV1,
} from '#lib/contracts';

const MESSAGES = Number(process.env.CODEC_MESSAGES ?? 400_000);
const ROUNDS = Number(process.env.CODEC_ROUNDS ?? 8);
const timeUs = 1_763_000_000_000_000;

function pipelineEvent(i: number): PipelineEventV1 {
  const did = `did:plc:user${i % 5_000}`;
  const base = { v: 1 as const, did, timeUs: timeUs + i, rkey: `3k${i.toString(36)}` };
  switch (i % 10) {
    case 0:
    case 1:
      return {
        ...base,
        type: 'post',
        op: 'create',
        cid: `bafyrei${i}`,
        createdAtMs: Math.floor((timeUs + i) / 1000),
        text: `A post of about the usual length, number ${i}, with a #tag and a few more words in it.`,
        langs: ['en'],
        tags: ['tag'],
        replyRoot: i % 3 === 0 ? `at://did:plc:user1/app.bsky.feed.post/3kroot${i}` : null,
        replyParent: i % 3 === 0 ? `at://did:plc:user1/app.bsky.feed.post/3kroot${i}` : null,
        quote: null,
        hasMedia: i % 4 === 0,
      };
    case 2:
    case 3:
    case 4:
    case 5:
      return {
        ...base,
        type: i % 5 === 0 ? 'repost' : 'like',
        op: 'create',
        cid: `bafyrei${i}`,
        createdAtMs: Math.floor((timeUs + i) / 1000),
        subjectUri: `at://did:plc:user${i % 977}/app.bsky.feed.post/3kpost${i % 10_000}`,
        subjectCid: `bafyreisubject${i % 10_000}`,
      };
    case 6:
    case 7:
      return { ...base, type: 'follow', op: 'create', createdAtMs: Math.floor((timeUs + i) / 1000), subjectDid: `did:plc:user${i % 811}` };
    default:
      return { ...base, type: 'like', op: 'delete' };
  }
}

const feedbackEvent = (i: number): FeedbackEventV1 => ({
  v: 1,
  type: 'feedback',
  viewer: `did:plc:user${i % 5_000}`,
  feed: 'at://did:web:localhost/app.bsky.feed.generator/bridging',
  item: `at://did:plc:user${i % 977}/app.bsky.feed.post/3kpost${i % 10_000}`,
  event: i % 2 === 0 ? 'impression' : 'interactionSeen',
  feedContext: null,
  reqId: `req-${i}`,
  timeUs: timeUs + i,
});

function rate(texts: readonly string[], decode: (text: string) => unknown): number {
  const started = process.hrtime.bigint();
  for (const text of texts) decode(text);
  return texts.length / (Number(process.hrtime.bigint() - started) / 1e9);
}

const pipelineTexts = Array.from({ length: MESSAGES }, (_, i) => encodeMessage(pipelineEvent(i)));
const feedbackTexts = Array.from({ length: MESSAGES }, (_, i) => encodeMessage(feedbackEvent(i)));
const format = (perSecond: number) => `${Math.round(perSecond).toLocaleString('en')} messages/s`;
const candidates = {
  'JSON.parse alone': [pipelineTexts, (text: string) => JSON.parse(text) as unknown],
  'decodePipelineEvent (by hand)': [pipelineTexts, decodePipelineEvent],
  'PipelineEventSchema (zod)': [pipelineTexts, (text: string) => PipelineEventSchema.parse(JSON.parse(text))],
  'decodeFeedbackEvent (by hand)': [feedbackTexts, decodeFeedbackEvent],
  'FeedbackEventSchema (zod)': [feedbackTexts, (text: string) => FeedbackEventSchema.parse(JSON.parse(text))],
} as const;
// Rounds alternate between the candidates, so a busy machine slows them alike; the best round counts.
const best = new Map<string, number>();
for (let round = 0; round < ROUNDS; round += 1) {
  for (const [name, [texts, decode]] of Object.entries(candidates)) best.set(name, Math.max(best.get(name) ?? 0, rate(texts, decode)));
}
console.log(`${MESSAGES.toLocaleString('en')} messages, best of ${ROUNDS} rounds, one core`);
for (const [name, perSecond] of best) console.log(`${name.padEnd(32)}${format(perSecond)}`);
