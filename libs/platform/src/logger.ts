import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';
import type { AppConfig } from '#lib/config';

export type { Logger };

/** Structured logs: one JSON line per event, request or batch, with a `component` to filter by. */
export function createLogger(config: Pick<AppConfig, 'logLevel' | 'role'>): Logger {
  return pino({ level: config.logLevel, base: { role: config.role }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Routes NestJS's own messages into the same structured log. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.debug({ component: context ?? 'nest' }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ component: context ?? 'nest', trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ component: context ?? 'nest' }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ component: context ?? 'nest' }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ component: context ?? 'nest' }, String(message));
  }
}
