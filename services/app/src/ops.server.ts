import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '#lib/config';
import { type Metrics, observeHttpRequests, type ReadinessService, type Logger } from '#lib/platform';
import type { ProcessStatusService } from './process-status.service.js';

export interface OpsServer {
  /** Base URL of the ops listener. */
  url: string;
  close(): Promise<void>;
}

/** The application's providers the ops listener reads; `app.get` of the running Nest application. */
export interface OpsProviders {
  metrics: Metrics;
  readiness: ReadinessService;
  status: ProcessStatusService;
}

/**
 * The operations listener every role serves on `OPS_PORT` (loopback unless `OPS_BIND_HOST` says
 * otherwise): `/metrics` for Prometheus, `/status` (what the process did, what the store holds),
 * `/ready` with the report of every check, and `/health`.
 *
 * @NOTE A plain fastify instance beside the Nest application, reading the application's own
 * providers: the same Metrics registry and ReadinessService, so nothing is computed twice and
 * nothing is created here that would need its own lifecycle. A second Nest application would
 * build a second module graph (a second bus and ClickHouse client) or run the providers' hooks
 * twice.
 */
export async function startOpsServer(config: AppConfig, providers: OpsProviders, logger: Logger): Promise<OpsServer> {
  const fastify: FastifyInstance = new FastifyAdapter({ bodyLimit: 1_024 }).getInstance();
  observeHttpRequests(fastify, logger, providers.metrics);
  fastify.get('/health', async () => ({ status: 'ok' }));
  fastify.get('/ready', async (_request, reply) => {
    const { ready, checks, snapshot } = await providers.readiness.check();
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks, snapshot });
  });
  fastify.get('/status', () => providers.status.status());
  fastify.get('/metrics', async (_request, reply) => {
    const text = await providers.metrics.scrape();
    return reply.header('content-type', providers.metrics.contentType).header('cache-control', 'no-store').send(text);
  });
  await fastify.listen({ port: config.http.opsPort, host: config.http.opsBindHost });
  const address = fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.opsPort;
  const host = config.http.opsBindHost === '0.0.0.0' ? '127.0.0.1' : config.http.opsBindHost;
  return { url: `http://${host}:${port}`, close: () => fastify.close() };
}
