/**
 * TEST FIXTURE, not a database server: a small HTTP front over chDB that speaks the part of
 * ClickHouse's HTTP interface `@clickhouse/client` uses (`/ping`; POST with the query in the body,
 * or `?query=` plus data in the body for inserts; `param_*` query parameters; errors as
 * `Code: N. DB::Exception: …` with `X-ClickHouse-Exception-Code`). It lets several processes
 * share one ClickHouse engine in multi-process tests on machines where no ClickHouse server can be
 * installed. Production uses a real ClickHouse server (`CLICKHOUSE_URL`).
 *
 * @NOTE The one import of chDB outside libs/clickhouse: this fixture *is* the server side that the
 * ClickHouse adapter talks to in multi-process tests. `:memory:` shares the process's in-memory
 * engine, as `createChdbConnection` does.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createChdbConnection } from 'chdb/connection';
import { untilReleased } from '#lib/clickhouse';

export interface ChdbHttpServer {
  readonly url: string;
  readonly port: number;
  readonly listening: boolean;
  /** Stops answering (ClickHouse going away): closes the listener and every open connection; the data stays. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops and releases the engine. */
  close(): Promise<void>;
}

const MAX_URI_BYTES = 1024 * 1024;

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startChdbHttpServer(options: { path: string; port?: number; host?: string }): Promise<ChdbHttpServer> {
  const connection = untilReleased(createChdbConnection({ path: options.path }));
  /**
   * @NOTE Queries under way. chDB runs a query off the JavaScript thread and hands its result back
   * on it, while closing the engine blocks that thread until the engine is idle: closed during a
   * query, the process waited on itself for ever (a ClickHouse outage of the fault campaign hung
   * there). `close()` lets these finish first, and no query starts once it has begun.
   */
  const running = new Set<Promise<unknown>>();
  let closing = false;
  const execute = async (query: string, queryId: string, params: Record<string, string>): Promise<Buffer> => {
    if (closing) throw Object.assign(new Error('the server is shutting down'), { code: 210 });
    const result = await connection.exec({ query, query_id: queryId, query_params: params });
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if ((request.url ?? '').length > MAX_URI_BYTES) {
      response.writeHead(414, { 'content-type': 'text/plain; charset=UTF-8' }).end('URI Too Long\n');
      return;
    }
    const url = new URL(request.url ?? '/', 'http://clickhouse.invalid');
    if (url.pathname === '/ping') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('Ok.\n');
      return;
    }
    const queryId = url.searchParams.get('query_id') ?? randomUUID();
    // Settings in the URL (wait_end_of_query, …) are HTTP-transport concerns chDB does not need.
    const params: Record<string, string> = {};
    for (const [key, value] of url.searchParams) if (key.startsWith('param_')) params[key.slice('param_'.length)] = value;
    const text = await body(request);
    const inUrl = url.searchParams.get('query');
    const sql = inUrl ? `${inUrl}\n${text}` : text;
    const query = execute(sql, queryId, params);
    running.add(query);
    try {
      const output = await query;
      response
        .writeHead(200, {
          'content-type': 'text/plain; charset=UTF-8',
          'x-clickhouse-query-id': queryId,
          'x-clickhouse-summary': JSON.stringify({ read_rows: '0', written_rows: '0' }),
        })
        .end(output);
    } catch (error) {
      const code = Number((error as { code?: unknown }).code) || 1000;
      const message = (error as Error).message.replace(/^Code: \d+\. /, '');
      response
        .writeHead(500, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': String(code), 'x-clickhouse-query-id': queryId })
        .end(`Code: ${code}. DB::Exception: ${message}\n`);
    } finally {
      running.delete(query);
    }
  };
  // A ClickHouse server refuses URLs over 1 MiB (`http_max_uri_size`); so does this front.
  const server: Server = createServer({ maxHeaderSize: MAX_URI_BYTES + 16 * 1024 }, (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
    });
  });
  const host = options.host ?? '127.0.0.1';
  let listening = false;
  const listen = async (port: number) => {
    server.listen(port, host);
    await once(server, 'listening');
    listening = true;
  };
  const stop = async () => {
    if (!listening) return;
    listening = false;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen(options.port ?? 0);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    get listening() {
      return listening;
    },
    stop,
    start: () => listen(port),
    async close() {
      closing = true;
      await stop();
      await Promise.allSettled(running);
      await connection.close();
    },
  };
}
