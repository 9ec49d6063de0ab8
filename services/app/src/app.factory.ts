import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { INestApplicationContext } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import type { MessageBus } from '#lib/contracts';
import { createLogger, NestPinoLogger, type Logger } from '#lib/platform';
import { feedGeneratorErrors } from '../../feed-generator/src/feed-generator.errors.js';
import { XrpcExceptionFilter } from '../../feed-generator/src/xrpc/xrpc-exception.filter.js';
import { AppModule, servesHttp } from './app.module.js';

export interface RunningApp {
  app: INestApplicationContext;
  /** Base URL of the feed generator, when this process serves HTTP. */
  url?: string;
  logger: Logger;
  close(): Promise<void>;
}

/** Builds and starts the services of `config.role`; `close()` drains and stops them in order. */
export async function startApp(config: AppConfig, options: { logger?: Logger; bus?: MessageBus } = {}): Promise<RunningApp> {
  const logger = options.logger ?? createLogger(config);
  const module = AppModule.forRole(config, { ...options, logger });
  const nestLogger = new NestPinoLogger(logger);
  if (!servesHttp(config)) {
    const app = await NestFactory.createApplicationContext(module, { logger: nestLogger });
    await app.init();
    return { app, logger, close: () => app.close() };
  }
  const adapter = new FastifyAdapter({ trustProxy: true, bodyLimit: 1_048_576 });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, { logger: nestLogger });
  app.useGlobalFilters(new XrpcExceptionFilter(logger.child({ component: 'xrpc' }), [feedGeneratorErrors]));
  await app.listen(config.feedGenerator.port, config.feedGenerator.bindHost);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.feedGenerator.port;
  const host = config.feedGenerator.bindHost === '0.0.0.0' ? '127.0.0.1' : config.feedGenerator.bindHost;
  const url = `http://${host}:${port}`;
  logger.info({ url }, 'feed generator listening');
  return { app, url, logger, close: () => app.close() };
}
