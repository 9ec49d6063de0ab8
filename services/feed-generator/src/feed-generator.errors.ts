import { CurationEntryNotFoundError, InvalidCurationError } from '#lib/curation';
import { InvalidCursorError } from '#lib/domain';
import { MembersOnlyError, NoAlgorithmError, UnknownFeedRequestedError } from './feeds/feed-skeleton.service.js';
import { AdminAuthError } from './admin.guard.js';
import { OtherViewerError } from './explain.controller.js';
import { isServiceAuthError } from './auth/auth.errors.js';
import { RateLimitExceededError } from './xrpc/viewer-rate-limiter.js';
import { FundNotFoundError } from './funds/fund-report.service.js';
import { FeedNotFoundError } from './feeds/feed.registry.js';
import type { ErrorTranslation } from './xrpc/xrpc-exception.filter.js';
import { InternalServerError, InvalidRequestError, UnknownFeedError, XrpcError } from './xrpc/xrpc.errors.js';

/** How the feed generator's domain errors appear to XRPC clients. */
export const feedGeneratorErrors: ErrorTranslation = (error) => {
  if (error instanceof UnknownFeedRequestedError) return new UnknownFeedError(error.feed);
  if (error instanceof InvalidCursorError) return new InvalidRequestError(`Invalid cursor: ${error.message}`);
  if (isServiceAuthError(error)) return new XrpcError(error.status, error.xrpcError, error.message);
  if (error instanceof MembersOnlyError) {
    return error.reason === 'anonymous' ? new XrpcError(401, 'AuthMissing', error.message) : new XrpcError(403, 'Forbidden', error.message);
  }
  if (error instanceof InvalidCurationError) return new InvalidRequestError(error.message, 'InvalidCuration');
  if (error instanceof AdminAuthError) return new XrpcError(401, 'AuthRequired', error.message);
  if (error instanceof OtherViewerError) return new XrpcError(403, 'Forbidden', error.message);
  if (error instanceof NoAlgorithmError) return new InternalServerError(error.message);
  if (error instanceof RateLimitExceededError) return new XrpcError(429, 'RateLimitExceeded', error.message, { 'retry-after': String(error.retryAfterSeconds) });
  if (error instanceof FundNotFoundError || error instanceof FeedNotFoundError || error instanceof CurationEntryNotFoundError) {
    return new XrpcError(404, 'NotFound', error.message);
  }
  return undefined;
};
