/**
 * Why a service-auth token was refused, as a low-cardinality label for metrics.
 * `code` on the error keeps the finer upstream detail (e.g. `BadJwtType`) for logs.
 */
export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'expired'
  | 'exp-too-far'
  | 'issued-in-future'
  | 'bad-signature'
  | 'wrong-audience'
  | 'wrong-method'
  | 'unknown-issuer';

export const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = [
  'missing',
  'malformed',
  'expired',
  'exp-too-far',
  'issued-in-future',
  'bad-signature',
  'wrong-audience',
  'wrong-method',
  'unknown-issuer',
];

interface AuthErrorOptions {
  /** Finer-grained code for logs, e.g. verifyJwt's `JwtExpired` or `BadJwtSignature`. */
  code?: string;
  cause?: unknown;
}

/**
 * The request carried credentials that did not verify. The XRPC exception filter answers
 * 401 `{ error: xrpcError, message }`, the error named by its code as `@atproto/xrpc-server` names
 * it (`JwtExpired`, `BadJwtAudience`, `BadJwtLexiconMethod`, `BadJwtSignature`, `BadJwt`, …).
 */
export class AuthRequiredError extends Error {
  override name = 'AuthRequiredError';
  readonly status = 401;
  readonly code: string;

  constructor(
    readonly reason: Exclude<AuthFailureReason, 'missing'>,
    message: string,
    options: AuthErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'AuthenticationRequired';
  }

  get xrpcError(): string {
    return this.code;
  }
}

/**
 * The route needs a viewer and the request carried no credentials at all. Only
 * `ServiceAuthVerifier.verifyViewer` throws it: `verify` treats a missing header as anonymous.
 */
export class AuthMissingError extends Error {
  override name = 'AuthMissingError';
  readonly xrpcError = 'AuthMissing';
  readonly status = 401;
  readonly reason = 'missing' as const;
  readonly code = 'AuthMissing';

  constructor(message = 'Authentication required: this method needs a service-auth token') {
    super(message);
  }
}

/**
 * @NOTE Not an auth failure: the issuer's did:plc could not be resolved because the PLC
 * directory failed or timed out. The token may be perfectly valid, so it must not be counted
 * or answered as a bad credential. 502 `UpstreamFailure` by default; the caller may instead
 * choose to serve the request anonymously.
 */
export class IdentityUnavailableError extends Error {
  override name = 'IdentityUnavailableError';
  readonly xrpcError = 'UpstreamFailure';
  readonly status = 502;

  constructor(
    readonly did: string,
    options: { cause?: unknown } = {},
  ) {
    super(`Could not resolve the DID document of ${did}`, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * A DID document larger than the resolver keeps (IDENTITY_DOCUMENT_MAX_BYTES). The issuer's
 * problem: the verifier answers it as an unknown issuer.
 */
export class DidDocumentTooLargeError extends Error {
  override name = 'DidDocumentTooLargeError';

  constructor(
    readonly did: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`The DID document of ${did} has ${bytes} bytes, more than the ${maxBytes} kept`);
  }
}

/**
 * A DID resolution refused before any request because too many are already running or waiting
 * (in all, or for this issuer). Ours, not the issuer's: the verifier answers it as
 * IdentityUnavailableError and does not remember it.
 */
export class ResolutionRefusedError extends Error {
  override name = 'ResolutionRefusedError';

  constructor(
    readonly did: string,
    readonly limit: 'queue' | 'issuer',
  ) {
    super(
      limit === 'queue'
        ? `Not resolving ${did}: too many DID resolutions are waiting`
        : `Not resolving ${did}: too many resolutions of this issuer are running`,
    );
  }
}

export type ServiceAuthError = AuthRequiredError | AuthMissingError | IdentityUnavailableError;

export function isServiceAuthError(err: unknown): err is ServiceAuthError {
  return err instanceof AuthRequiredError || err instanceof AuthMissingError || err instanceof IdentityUnavailableError;
}
