export { HttpStatusError, NetworkReadError, NetworkReader, type NetworkReaderOptions, type RepoRecord, RepoUnavailableError } from './network.reader.js';
export { FeedPublisher, PublishingError, type PublishResult } from './feed-publisher.js';
export { AccountMismatchError, type LabelerRecordResult, loginAs, pdsFetch, putLabelerRecord } from './records.js';
