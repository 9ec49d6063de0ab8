/**
 * Topic names are contracts: the version suffix changes whenever the message schema on the
 * topic changes incompatibly, so old and new producers never share a topic.
 */
export const Topics = {
  /** Normalised Jetstream events from ingest, keyed by repo DID. Schema: `PipelineEventV1`. */
  events: 'cg.events.v1',
  /** Viewer feedback from `sendInteractions` and served impressions, keyed by viewer DID. Schema: `FeedbackEventV1`. */
  feedback: 'cg.feedback.v1',
  /** Messages that could not be decoded or applied; the reason travels in headers. */
  deadLetter: 'cg.dead-letter.v1',
  /** Control plane: a new curation version was written; every process applies it. Schema: `CurationChangedV1`. */
  curation: 'cg.curation.v1',
} as const;

/** Header names on dead-lettered messages. */
export const DeadLetterHeaders = {
  reason: 'x-dead-letter-reason',
  sourceTopic: 'x-source-topic',
  sourcePartition: 'x-source-partition',
  sourceOffset: 'x-source-offset',
} as const;

/**
 * The rankers' topic: it carries no messages. Its partitions are shared out by the rankers'
 * consumer group (`RANKER_GROUP`); each feed is hashed to one of them (`RANKER_PARTITIONS`), so a
 * ranker computes the feeds of the partitions it holds. Created by the rankers, with its own count.
 */
export const RANKER_TOPIC = 'cg.rankers.v1';
