import type { FastifyInstance } from 'fastify';
import { rowCountOf, type ClickHouseClient } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { ConsumerLag, MessageBus } from '#lib/contracts';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/**
 * Times every insert of the client, by table: latency, rows, failures. Every repository writes
 * through the one client, so this is the one place that sees all of them.
 */
export function instrumentInserts(client: ClickHouseClient, metrics: Metrics): ClickHouseClient {
  const insert = client.insert.bind(client);
  const instrumented = async (params: Parameters<ClickHouseClient['insert']>[0]) => {
    const table = params.table.slice(params.table.lastIndexOf('.') + 1);
    const stop = metrics.clickhouseInsertDuration.startTimer({ table });
    try {
      const result = await insert(params);
      stop();
      const rows = rowCountOf(params.values);
      if (rows !== undefined) metrics.clickhouseInsertedRows.inc({ table }, rows);
      return result;
    } catch (error) {
      metrics.clickhouseInsertFailures.inc({ table });
      throw error;
    }
  };
  client.insert = instrumented;
  return client;
}

/** The consumer groups of the scoring service; one place, so metrics and the consumers agree. */
export function scoringConsumerGroups(config: AppConfig): { events: string; feedback: string } {
  const base = config.bus.kind === 'kafka' ? config.bus.consumerGroup : 'scoring';
  return { events: base, feedback: `${base}-feedback` };
}

/** Consumer lag of a group, or undefined when the bus cannot tell. */
export async function consumerLag(bus: MessageBus, groupId: string, topics: string[]): Promise<ConsumerLag[] | undefined> {
  return bus.lag?.(groupId, topics);
}

/**
 * One log line and one metric sample per HTTP request: method, url, status, ms and the request id
 * (which getFeedSkeleton returns as `reqId`, so a client's report leads to the line).
 *
 * @NOTE At 10k requests/s a line per request is too much for `info`: requests log at `debug`,
 * server errors (5xx) at `warn`. Metrics count every request either way.
 */
export function observeHttpRequests(fastify: FastifyInstance, logger: Logger, metrics: Metrics): void {
  const log = logger.child({ component: 'http' });
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(status) });
    metrics.httpRequestDuration.observe({ route }, ms / 1000);
    if (status >= 500) {
      log.warn({ method: request.method, url: request.url, status, ms: Math.round(ms * 10) / 10, reqId: request.id }, 'request failed');
    } else if (log.isLevelEnabled('debug')) {
      log.debug({ method: request.method, url: request.url, status, ms: Math.round(ms * 10) / 10, reqId: request.id }, 'request');
    }
    done();
  });
}
