import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '#lib/config';
import type { MessageBus } from '#lib/contracts';
import { BusStartup, CONTROL_PLANE, createLogger, Metrics, NestPinoLogger, observeHttpRequests, ReadinessService, type ControlPlane, type Logger } from '#lib/platform';
import { feedGeneratorErrors } from '../../feed-generator/src/feed-generator.errors.js';
import { SubscribeLabelsGateway } from '../../feed-generator/src/xrpc/subscribe-labels.gateway.js';
import { xrpcErrorName, XrpcExceptionFilter } from '../../feed-generator/src/xrpc/xrpc-exception.filter.js';
import { AppModule, servesFeeds } from './app.module.js';
import { startOpsServer } from './ops.server.js';
import { ProcessStatusService } from './process-status.service.js';

export interface RunningApp {
  app: NestFastifyApplication;
  /** Base URL of the public HTTP server (XRPC in the feed generator; `/health` and `/ready` in every role). */
  url: string;
  /** Base URL of the ops listener (`/status`, `/metrics`, the detailed `/ready`), in every role. */
  opsUrl: string;
  logger: Logger;
  close(): Promise<void>;
}

/** Builds and starts the services of `config.role`; `close()` drains and stops them in order. */
export async function startApp(config: AppConfig, options: { logger?: Logger; bus?: MessageBus } = {}): Promise<RunningApp> {
  const logger = options.logger ?? createLogger(config);
  const module = AppModule.forRole(config, { ...options, logger });
  const nestLogger = new NestPinoLogger(logger);
  // Request ids are UUIDs: getFeedSkeleton returns the request's id as `reqId`, which clients echo back.
  const adapter = new FastifyAdapter({
    trustProxy: true,
    bodyLimit: 1_048_576,
    genReqId: () => randomUUID(),
    // @NOTE Fastify answers a path it cannot decode (`%ff`) before any route or filter sees it: in
    // its own shape, which XRPC clients read as the error `Bad Request`. The same body as every error here.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const status = error.statusCode ?? 400;
      void reply.code(status).type('application/json; charset=utf-8').send({ error: xrpcErrorName(status), message: error.message });
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, { logger: nestLogger });
  observeHttpRequests(adapter.getInstance(), logger, app.get(Metrics));
  // @NOTE Every answer is read as the type it says (no sniffing a JSON body into a script), and an
  // answer to a request with credentials is the caller's own: no shared cache may keep it. A
  // handler that says otherwise (its own Cache-Control) is set later and wins.
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (request.headers.authorization !== undefined) void reply.header('cache-control', 'no-store');
    done();
  });
  app.useGlobalFilters(new XrpcExceptionFilter(logger.child({ component: 'xrpc' }), [feedGeneratorErrors]));
  // The control plane's `@EventPattern` handlers (curation changes) listen before the port opens.
  app.connectMicroservice({ strategy: app.get<ControlPlane>(CONTROL_PLANE).server });
  // With the bus away, a serving process listens without it: announcements are an early word, the curation is polled.
  await app.get(BusStartup).step('starting the control plane', async () => void (await app.startAllMicroservices()), { once: true });
  await app.listen(config.http.port, config.http.bindHost);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.bindHost === '0.0.0.0' ? '127.0.0.1' : config.http.bindHost;
  const url = `http://${host}:${port}`;
  const ops = await startOpsServer(config, { metrics: app.get(Metrics), readiness: app.get(ReadinessService), status: app.get(ProcessStatusService) }, logger).catch(
    async (error: unknown) => {
      await app.close();
      throw error;
    },
  );
  logger.info({ url, opsUrl: ops.url, role: config.role }, 'listening');
  return {
    app,
    url,
    opsUrl: ops.url,
    logger,
    // The ops listener goes first: a scrape never reaches providers that are shutting down.
    // @NOTE Then the public port, before any provider: Nest's own close runs the shutdown hooks
    // (the impressions' last flush, the bus's close) before it closes the HTTP server, which until
    // then served pages whose impressions nobody published, and in embedded mode took
    // sendInteractions that waited on a bus whose consumer had stopped. Fastify's close refuses new
    // connections, answers a request on a kept-alive one with 503, and waits for those in flight;
    // the second close, Nest's, finds the server closed.
    close: async () => {
      await ops.close();
      // Label subscriptions are connections the HTTP server's close would wait for without end.
      if (servesFeeds(config)) await app.get(SubscribeLabelsGateway, { strict: false }).closeSubscriptions();
      await adapter.close();
      await app.close();
    },
  };
}
