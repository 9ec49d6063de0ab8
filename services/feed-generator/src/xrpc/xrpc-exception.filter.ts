import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '#lib/platform';
import { InternalServerError, MethodNotImplementedError, XrpcError } from './xrpc.errors.js';

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
    if (error.status >= 500) this.logger.error({ err: exception, url: request.url }, 'request failed');
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
        return new MethodNotImplementedError(request.url.slice('/xrpc/'.length).split('?')[0]!);
      }
      const name = status === 404 ? 'NotFound' : status < 500 ? 'InvalidRequest' : 'InternalServerError';
      return new XrpcError(status, name, exception.message);
    }
    return new InternalServerError();
  }
}
