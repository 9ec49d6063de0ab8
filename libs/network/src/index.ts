export { boundedFetch, HttpStatusError, NetworkReadError, NetworkReader, type NetworkReaderOptions, type RepoRecord, RepoUnavailableError } from './network.reader.js';
export { FeedPublisher, PublishingError, type PublishResult } from './feed-publisher.js';
