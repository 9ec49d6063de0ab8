import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Nsid } from '#lib/domain';
import type { Logger } from '#lib/platform';
import { InternalServerError, InvalidRequestError, MethodNotImplementedError, XrpcError } from './xrpc.errors.js';

/**
 * The HTTP verb of each XRPC method served here (a query is a GET, a procedure a POST).
 * @NOTE Known to the filter so that a wrong verb gets the atproto XRPC server's answer, 400 "Incorrect
 * HTTP method", instead of 501 MethodNotImplemented for a method we do implement.
 */
const methodVerbs: ReadonlyMap<string, 'GET' | 'POST'> = new Map([
  [Nsid.getFeedSkeleton, 'GET'],
  [Nsid.describeFeedGenerator, 'GET'],
  [Nsid.sendInteractions, 'POST'],
  [Nsid.queryLabels, 'GET'],
]);

/**
 * XRPC's names of the HTTP statuses a framework error can carry, as `@atproto/xrpc`'s
 * `ResponseType` names them (what clients read in `error`); another 4xx is InvalidRequest, another
 * 5xx InternalServerError.
 */
const STATUS_NAMES: ReadonlyMap<number, string> = new Map([
  [404, 'NotFound'],
  [406, 'NotAcceptable'],
  [413, 'PayloadTooLarge'],
  [415, 'UnsupportedMediaType'],
  [429, 'RateLimitExceeded'],
  [501, 'MethodNotImplemented'],
  [502, 'UpstreamFailure'],
  [503, 'NotEnoughResources'],
  [504, 'UpstreamTimeout'],
]);

/** The XRPC error name of an HTTP status. */
export const xrpcErrorName = (status: number): string => STATUS_NAMES.get(status) ?? (status < 500 ? 'InvalidRequest' : 'InternalServerError');

/** Translation of a domain error into an XRPC error, registered by the module that owns the error. */
export type ErrorTranslation = (error: unknown) => XrpcError | undefined;

/**
 * The one place where errors become HTTP responses. Known errors are translated to XRPC error
 * bodies; anything else is logged and answered as `InternalServerError` without details.
 */
@Catch()
export class XrpcExceptionFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly translations: ErrorTranslation[] = [],
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const error = this.translate(exception, request);
    // @NOTE An unknown method is the client's mistake, whatever its status: logging each one with a stack
    // would let anyone fill the logs by asking for /xrpc/<anything>.
    if (error.status >= 500 && !(error instanceof MethodNotImplementedError)) this.logger.error({ err: exception, url: request.url }, 'request failed');
    // A 401 says how to authenticate (RFC 9110): a bearer token, service auth's JWT.
    if (error.status === 401) void reply.header('www-authenticate', 'Bearer');
    for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
    void reply.status(error.status).header('content-type', 'application/json; charset=utf-8').send({ error: error.error, message: error.message });
  }

  private translate(exception: unknown, request: FastifyRequest): XrpcError {
    if (exception instanceof XrpcError) return exception;
    for (const translation of this.translations) {
      const translated = translation(exception);
      if (translated) return translated;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404 && request.url.startsWith('/xrpc/')) {
        const method = request.url.slice('/xrpc/'.length).split('?')[0]!;
        const verb = methodVerbs.get(method);
        if (verb !== undefined && request.method !== verb) return new InvalidRequestError(`Incorrect HTTP method (${request.method}) expected ${verb}`);
        return new MethodNotImplementedError(method);
      }
      return new XrpcError(status, xrpcErrorName(status), exception.message);
    }
    return new InternalServerError();
  }
}
