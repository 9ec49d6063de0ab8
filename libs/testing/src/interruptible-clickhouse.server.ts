import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createClickHouseClient, type ClickHouseClient } from '#lib/clickhouse';

/**
 * TEST FIXTURE: a ClickHouse server as the application sees one in scaled mode (`CLICKHOUSE_URL`),
 * that a test can stop and start again on the same port with its data intact — ClickHouse going
 * away and coming back, which the embedded engine cannot do. It speaks the part of the HTTP
 * interface `@clickhouse/client` uses (`/ping`, queries with `param_*` bindings, `INSERT … FORMAT`
 * with the rows in the body) and answers with chDB in the test's own process.
 *
 * @NOTE Unlike `chdb-http.server.ts` (one engine shared by several processes), this runs in the
 * test process on the same kind of chDB connection as embedded mode (`:memory:`, isolated by
 * database name), and binds parameters as the server does: the escaped text of each `param_*`,
 * cast to the placeholder's declared type. It covers what this project's repositories send; it
 * is not a general ClickHouse server.
 */
export interface InterruptibleClickHouse {
  /** `http://127.0.0.1:PORT`, for `CLICKHOUSE_URL`. */
  readonly url: string;
  readonly port: number;
  readonly listening: boolean;
  /** Stops answering: closes the listener and every open connection (the data stays). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops and releases the engine connection. */
  close(): Promise<void>;
}

/** Settings passed from the URL into the statement; the others are HTTP-level, or the engine's defaults already. */
const FORWARDED_SETTINGS = new Set(['input_format_skip_unknown_fields']);
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}/g;

/** A ClickHouse string literal holding `text` exactly. */
const literal = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** The HTTP interface sends top-level string parameters in the "escaped" text format; undo it. */
const unescape = (text: string) =>
  text.replace(/\\(.)/g, (_, char: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0' })[char] ?? char);

/** Replaces `{name:Type}` placeholders by typed literals, as the server's parameter binding does. */
function bindParameters(sql: string, params: ReadonlyMap<string, string>): string {
  return sql.replace(PLACEHOLDER, (_, name: string, type: string) => {
    const text = params.get(name);
    if (text === undefined) throw new Error(`Code: 456. DB::Exception: Substitution \`${name}\` is not set.`);
    const declared = type.trim();
    if (/^(LowCardinality\()?String\)?$/.test(declared)) return literal(unescape(text));
    return `CAST(${literal(text)} AS ${declared})`;
  });
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startInterruptibleClickHouse(options: { port?: number } = {}): Promise<InterruptibleClickHouse> {
  const host = '127.0.0.1';
  const engine: ClickHouseClient = createClickHouseClient({ kind: 'embedded', path: ':memory:', database: 'default' });
  const sockets = new Set<Socket>();

  const answer = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://clickhouse.invalid');
    if (url.pathname === '/ping') {
      response.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    const body = request.method === 'POST' ? await readBody(request) : '';
    const params = new Map<string, string>();
    const settings: string[] = [];
    for (const [key, value] of url.searchParams) {
      if (key.startsWith('param_')) params.set(key.slice('param_'.length), value);
      else if (FORWARDED_SETTINGS.has(key)) settings.push(`${key} = ${Number(value)}`);
    }
    // An insert names its statement in the URL and carries the rows in the body; a query is the body.
    const inUrl = url.searchParams.get('query');
    const statement = settings.length > 0 && inUrl ? inUrl.replace(/\bFORMAT\b/i, `SETTINGS ${settings.join(', ')} FORMAT`) : (inUrl ?? body);
    const sql = bindParameters(statement, params);
    const result = await engine.exec({ query: inUrl ? `${sql}\n${body}` : sql });
    response.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-query-id': url.searchParams.get('query_id') ?? '' });
    for await (const chunk of result.stream) response.write(chunk);
    response.end();
  };

  // Long parameter lists (a community's members) travel in the URL: allow large request heads.
  const server = createServer({ maxHeaderSize: 1 << 20 }, (request, response) => {
    answer(request, response).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (response.headersSent) {
        response.destroy();
        return;
      }
      response
        .writeHead(500, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': /Code: (\d+)/.exec(message)?.[1] ?? '1000' })
        .end(message.startsWith('Code:') ? message : `Code: 1000. DB::Exception: ${message}`);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const stop = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive sockets of the client's agent would otherwise keep talking to a "stopped" server.
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    url: `http://${host}:${port}`,
    port,
    get listening() {
      return server.listening;
    },
    stop,
    async start() {
      if (server.listening) return;
      server.listen(port, host);
      await once(server, 'listening');
    },
    async close() {
      await stop();
      await engine.close();
    },
  };
}
