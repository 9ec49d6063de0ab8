import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { z } from 'zod';
import type { AtprotoNetwork, Did } from './atproto-network.js';

/**
 * The control API of a network process: what a test needs of the local network beyond the public XRPC of its
 * services. Reading the addresses, waiting for the AppView and the Jetstream translator to catch up, labelling
 * through the network's Ozone (its moderators' keys stay in the process), and the e-mail tokens the PDS would send.
 * JSON over loopback HTTP; an error answers 500 with `{ error }`.
 */

/** Where the services of the network answer. */
export const atprotoNetworkInfoSchema = z.object({
  pdsUrl: z.string(),
  appviewUrl: z.string(),
  plcUrl: z.string(),
  ozoneUrl: z.string(),
  /** The DID of the network's Ozone, the labeler the AppView takes labels from. */
  ozoneDid: z.string(),
  /** `ws://127.0.0.1:PORT/subscribe`: the PDS firehose as Jetstream. */
  jetstreamUrl: z.string(),
});
export type AtprotoNetworkInfo = z.infer<typeof atprotoNetworkInfoSchema>;

/** The Jetstream translator's counters, for the whole network (every test's events). */
export const jetstreamStatusSchema = z.object({
  eventCount: z.number(),
  lastSeq: z.number().nullable(),
  errors: z.array(z.string()),
});
export type JetstreamStatus = z.infer<typeof jetstreamStatusSchema>;

const syncJetstreamInput = z.object({ timeoutMs: z.number().int().positive().optional() });
const ozoneLabelInput = z.object({ uri: z.string(), cid: z.string(), values: z.array(z.string()).min(1) });
const didSchema = z.custom<Did>((value) => typeof value === 'string' && /^did:[a-z]+:\S+$/.test(value), 'a DID');
const emailTokenInput = z.object({ did: didSchema, purpose: z.enum(['confirm_email', 'update_email', 'reset_password', 'delete_account', 'plc_operation']) });

export interface AtprotoNetworkControl {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  close(): Promise<void>;
}

class ControlInputError extends Error {
  override name = 'ControlInputError';
}

async function jsonBody(request: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ControlInputError(`the body is not JSON: ${text.slice(0, 200)}`);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ControlInputError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  return parsed.data;
}

export async function startAtprotoNetworkControl(net: AtprotoNetwork): Promise<AtprotoNetworkControl> {
  const jetstream = net.jetstream;
  if (!jetstream) throw new Error('the control API serves a network started with its Jetstream translator');
  const info: AtprotoNetworkInfo = {
    pdsUrl: net.pdsUrl,
    appviewUrl: net.appviewUrl,
    plcUrl: net.plcUrl,
    ozoneUrl: net.network.ozone.url,
    ozoneDid: net.network.ozone.ctx.cfg.service.did,
    jetstreamUrl: jetstream.subscribeUrl,
  };

  const routes: Record<string, (request: IncomingMessage, query: URLSearchParams) => Promise<unknown>> = {
    'GET /info': async () => info,
    'GET /jetstream': async (): Promise<JetstreamStatus> => ({
      eventCount: jetstream.eventCount,
      lastSeq: jetstream.lastSeq ?? null,
      errors: jetstream.errors.map((error) => error.message),
    }),
    'POST /sync/appview': async () => {
      await net.syncAppView();
      return {};
    },
    'POST /sync/jetstream': async (request) => {
      const { timeoutMs } = parse(syncJetstreamInput, await jsonBody(request));
      await net.syncJetstream(timeoutMs);
      return {};
    },
    'POST /ozone/label': async (request) => {
      const { uri, cid, values } = parse(ozoneLabelInput, await jsonBody(request));
      await net.network.ozone.getModClient().emitEvent({
        event: { $type: 'tools.ozone.moderation.defs#modEventLabel', createLabelVals: values, negateLabelVals: [] },
        subject: { $type: 'com.atproto.repo.strongRef', uri, cid },
      });
      return {};
    },
    'GET /email-token': async (_request, query) => {
      const { did, purpose } = parse(emailTokenInput, Object.fromEntries(query));
      // @NOTE The PDS of dev-env sends no mail: the token it would send is read from its account database.
      const row = await net.network.pds.ctx.accountManager.db.db
        .selectFrom('email_token')
        .select('token')
        .where('did', '=', did)
        .where('purpose', '=', purpose)
        .executeTakeFirst();
      if (!row) throw new ControlInputError(`no ${purpose} token for ${did}`);
      return { token: row.token };
    },
  };

  const respond = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://control');
    const route = routes[`${request.method} ${url.pathname}`];
    if (!route) {
      respond(response, 404, { error: `no route ${request.method} ${url.pathname}` });
      return;
    }
    route(request, url.searchParams).then(
      (body) => respond(response, 200, body),
      (error: unknown) => respond(response, error instanceof ControlInputError ? 400 : 500, { error: error instanceof Error ? error.message : String(error) }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
