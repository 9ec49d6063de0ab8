export { HttpStatusError, NetworkReadError, NetworkReader, type NetworkReaderOptions, type RepoRecord, RepoUnavailableError } from './network.reader.js';
