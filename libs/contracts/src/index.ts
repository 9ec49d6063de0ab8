export {
  type BatchContext,
  type BatchHandler,
  BusUnavailableError,
  type ConsumerLag,
  type IncomingMessage,
  type MessageBatch,
  type MessageBus,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
  type TopicSpec,
} from './bus.js';
export { DeadLetterHeaders, Topics } from './topics.js';
export {
  type AccountStatus,
  type GraphCreate,
  type IdentityChange,
  type ListItemCreate,
  PipelineEventSchema,
  type PipelineEventV1,
  type PostCreate,
  type RecordDelete,
  type RecordKind,
  type StarterPackCreate,
  type SubjectCreate,
} from './pipeline-event.js';
export { FeedbackEventSchema, type FeedbackEventV1, type InteractionEvent, InteractionEvents } from './feedback-event.js';
export { decodeFeedbackEvent, decodePipelineEvent, encodeMessage, MessageDecodeError } from './message.codec.js';
