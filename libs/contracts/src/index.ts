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
export { DeadLetterHeaders, RANKER_TOPIC, Topics } from './topics.js';
export {
  type AccountStatus,
  DECLARATION_RKEY,
  type GraphCreate,
  type IdentityChange,
  type ListItemCreate,
  MAX_NOTE_TEXT,
  MAX_PLEDGE_CREDITS,
  MAX_TIME_US,
  type NoteCreate,
  NoteHelpfulness,
  type NoteHelpfulnessValue,
  type NoteRatingCreate,
  type NoteReason,
  NoteReasons,
  type NoteRequestCreate,
  PipelineEventSchema,
  type PipelineEventV1,
  type PledgeCreate,
  type PostCreate,
  type RecordDelete,
  type RecordKind,
  type StarterPackCreate,
  type VisibilityDeclaration,
  type SubjectCreate,
} from './pipeline-event.js';
export { FeedbackEventSchema, type FeedbackEventV1, type InteractionEvent, InteractionEvents } from './feedback-event.js';
export { decodeFeedbackEvent, decodePipelineEvent, encodeMessage, isCommunityId, MessageDecodeError } from './message.codec.js';
export { CurationChangedV1 } from './curation-changed.js';
export { hasWellFormedStrings, ILL_FORMED_STRING } from './well-formed.js';
