/**
 * Errors of the XRPC surface. Each carries the lexicon error name and HTTP status; the
 * `XrpcExceptionFilter` writes them as `{ error, message }`, the body every XRPC client expects.
 */
export class XrpcError extends Error {
  override name = 'XrpcError';
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    /** Headers the answer carries besides its body (`Retry-After` of a 429). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export class InvalidRequestError extends XrpcError {
  override name = 'InvalidRequestError';
  constructor(message: string, error = 'InvalidRequest') {
    super(400, error, message);
  }
}

/** `app.bsky.feed.getFeedSkeleton#UnknownFeed`. */
export class UnknownFeedError extends InvalidRequestError {
  override name = 'UnknownFeedError';
  constructor(feed: string) {
    super(`Unknown feed: ${feed}`, 'UnknownFeed');
  }
}

export class MethodNotImplementedError extends XrpcError {
  override name = 'MethodNotImplementedError';
  constructor(method: string) {
    super(501, 'MethodNotImplemented', `Method not implemented: ${method}`);
  }
}

export class InternalServerError extends XrpcError {
  override name = 'InternalServerError';
  constructor(message = 'Internal Server Error') {
    super(500, 'InternalServerError', message);
  }
}

/** The store could not answer in time; clients may retry. */
export class UpstreamUnavailableError extends XrpcError {
  override name = 'UpstreamUnavailableError';
  constructor(message = 'Feed data is temporarily unavailable') {
    super(503, 'UpstreamFailure', message);
  }
}
