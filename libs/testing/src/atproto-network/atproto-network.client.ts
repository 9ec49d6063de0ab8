import { randomInt } from 'node:crypto';
import { AtpAgent, AtUri } from '@atproto/api';
import { z } from 'zod';
import type { Did, TestAccount } from './atproto-network.js';
import {
  atprotoNetworkInfoSchema,
  jetstreamStatusSchema,
  type AtprotoNetworkInfo,
  type JetstreamStatus,
} from './atproto-network.control.js';
import { AtprotoNetworkError } from './atproto-network.error.js';
import { ATPROTO_NETWORK_ENV, startAtprotoNetworkProcess, type AtprotoNetworkProcess } from './atproto-network.process.js';

/** A record just written: its `at://` URI (parsed and as text) and CID. */
export interface TestRecordRef {
  readonly uri: AtUri;
  readonly uriStr: string;
  readonly cidStr: string;
}

/**
 * A test's view of the local Bluesky network: the addresses of its services, accounts and records of the test's
 * own, and the waits and moderation a test needs. Several test files share one network (a process of its own), so
 * a test sees only what it made: its accounts get handles no other connection can take, and it must never count
 * what the whole network holds.
 */
export interface AtprotoNetworkClient extends AtprotoNetworkInfo {
  /** True when the network is the run's (or another connection's), false when this connection started it (and stops it). */
  readonly shared: boolean;
  /** The network's control API: `connectAtprotoNetwork(controlUrl)` opens another connection to the same network. */
  readonly controlUrl: string;
  /** A fresh account `<name>-<connection tag>.test` (name: up to 11 lower-case letters or digits). */
  createAccount(name: string): Promise<TestAccount>;
  post(author: Did, text: string): Promise<TestRecordRef>;
  like(by: Did, subject: TestRecordRef): Promise<TestRecordRef>;
  follow(from: Did, to: Did): Promise<TestRecordRef>;
  createList(by: Did, name: string, purpose?: 'curate' | 'mod' | 'reference'): Promise<TestRecordRef>;
  addToList(by: Did, subject: Did, list: TestRecordRef): Promise<TestRecordRef>;
  /** A starter pack (and the reference list behind it) in `by`'s repository. */
  createStarterPack(by: Did, name: string, actors: Did[]): Promise<TestRecordRef>;
  deletePost(by: Did, post: TestRecordRef): Promise<void>;
  /** Resolves when the AppView has indexed everything the PDS sequenced so far. */
  syncAppView(): Promise<void>;
  /** Resolves when the Jetstream translator has sent everything the PDS sequenced so far. */
  syncJetstream(timeoutMs?: number): Promise<void>;
  jetstreamStatus(): Promise<JetstreamStatus>;
  /** Labels `subject` with `values` as the network's Ozone (a moderator's `modEventLabel`). */
  labelWithOzone(subject: TestRecordRef, values: string[]): Promise<void>;
  /** The token the PDS would have e-mailed to `did` for `purpose` (dev-env sends no mail). */
  emailToken(did: Did, purpose: 'plc_operation'): Promise<string>;
  /** Ends the connection; stops the network when this connection started it. */
  close(): Promise<void>;
}

const collections = {
  post: 'app.bsky.feed.post',
  like: 'app.bsky.feed.like',
  follow: 'app.bsky.graph.follow',
  list: 'app.bsky.graph.list',
  listitem: 'app.bsky.graph.listitem',
  starterpack: 'app.bsky.graph.starterpack',
} as const;

const listPurposes = {
  curate: 'app.bsky.graph.defs#curatelist',
  mod: 'app.bsky.graph.defs#modlist',
  reference: 'app.bsky.graph.defs#referencelist',
} as const;

const emailTokenSchema = z.object({ token: z.string() });

const tagAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** The PDS refuses a handle whose first label is longer than 18 characters: name, hyphen and a 6-character tag. */
const namePattern = /^[a-z0-9]{1,11}$/;

function connectionTag(): string {
  let tag = '';
  for (let i = 0; i < 6; i++) tag += tagAlphabet[randomInt(tagAlphabet.length)];
  return tag;
}

class ControlApi {
  constructor(private readonly url: string) {}

  async call<T>(method: 'GET' | 'POST', route: string, schema: z.ZodType<T> | undefined, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${route}`, {
        method,
        ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new AtprotoNetworkError(`the local AT Protocol network at ${this.url} does not answer (${route}): ${error instanceof Error ? error.message : String(error)}`);
    }
    const answer = await response.json();
    if (!response.ok) throw new AtprotoNetworkError(`${method} ${route} on the local AT Protocol network: ${(answer as { error?: string }).error ?? response.status}`);
    if (!schema) return answer as T;
    const parsed = schema.safeParse(answer);
    if (!parsed.success) throw new AtprotoNetworkError(`${route} answered an unexpected shape: ${parsed.error.message}`);
    return parsed.data;
  }
}

/**
 * Connects to the network whose control API is at `controlUrl`, by default the run's (CG_TEST_ATPROTO_NETWORK, set
 * by scripts/test.mjs when the run holds a test that needs one); with neither, starts a network for this connection
 * alone, as when a single test file runs under plain Jest.
 */
export async function connectAtprotoNetwork(controlUrl = process.env[ATPROTO_NETWORK_ENV]): Promise<AtprotoNetworkClient> {
  const owned: AtprotoNetworkProcess | undefined = controlUrl ? undefined : await startAtprotoNetworkProcess();
  const url = controlUrl ?? owned!.controlUrl;
  const control = new ControlApi(url);
  let info: AtprotoNetworkInfo;
  try {
    info = await control.call('GET', '/info', atprotoNetworkInfoSchema);
  } catch (error) {
    await owned?.stop();
    throw error;
  }

  const agent = new AtpAgent({ service: info.pdsUrl });
  const tag = connectionTag();
  /** Access tokens of this connection's accounts, by DID. */
  const sessions = new Map<string, string>();
  const auth = (did: Did) => {
    const jwt = sessions.get(did);
    if (!jwt) throw new AtprotoNetworkError(`${did} is not an account of this connection`);
    return { authorization: `Bearer ${jwt}` };
  };
  const write = async (repo: Did, collection: string, record: Record<string, unknown>): Promise<TestRecordRef> => {
    const { data } = await agent.com.atproto.repo.createRecord(
      { repo, collection, record: { $type: collection, createdAt: new Date().toISOString(), ...record } },
      { headers: auth(repo), encoding: 'application/json' },
    );
    return { uri: new AtUri(data.uri), uriStr: data.uri, cidStr: data.cid };
  };
  const createList = (by: Did, name: string, purpose: keyof typeof listPurposes = 'curate') =>
    write(by, collections.list, { name, purpose: listPurposes[purpose] });
  const addToList = (by: Did, subject: Did, list: TestRecordRef) => write(by, collections.listitem, { subject, list: list.uriStr });
  let closed = false;

  return {
    ...info,
    shared: owned === undefined,
    controlUrl: url,
    createAccount: async (name) => {
      if (!namePattern.test(name)) throw new AtprotoNetworkError(`an account name is 1 to 11 lower-case letters or digits, got ${JSON.stringify(name)}`);
      const front = `${name}-${tag}`;
      const account = { handle: `${front}.test`, email: `${front}@test.invalid`, password: `${name}-pass` };
      const { data } = await agent.com.atproto.server.createAccount(account);
      sessions.set(data.did, data.accessJwt);
      return { did: data.did as Did, handle: data.handle, password: account.password };
    },
    post: (author, text) => write(author, collections.post, { text }),
    like: (by, subject) => write(by, collections.like, { subject: { uri: subject.uriStr, cid: subject.cidStr } }),
    follow: (from, to) => write(from, collections.follow, { subject: to }),
    createList,
    addToList,
    createStarterPack: async (by, name, actors) => {
      const list = await createList(by, `${name} (starter pack)`, 'reference');
      for (const actor of actors) await addToList(by, actor, list);
      return write(by, collections.starterpack, { name, list: list.uriStr });
    },
    deletePost: async (by, post) => {
      await agent.com.atproto.repo.deleteRecord({ repo: by, collection: collections.post, rkey: post.uri.rkey }, { headers: auth(by), encoding: 'application/json' });
    },
    syncAppView: () => control.call('POST', '/sync/appview', undefined).then(() => undefined),
    syncJetstream: (timeoutMs) => control.call('POST', '/sync/jetstream', undefined, { timeoutMs }).then(() => undefined),
    jetstreamStatus: () => control.call('GET', '/jetstream', jetstreamStatusSchema),
    labelWithOzone: (subject, values) => control.call('POST', '/ozone/label', undefined, { uri: subject.uriStr, cid: subject.cidStr, values }).then(() => undefined),
    emailToken: async (did, purpose) => (await control.call('GET', `/email-token?${new URLSearchParams({ did, purpose })}`, emailTokenSchema)).token,
    close: async () => {
      if (closed) return;
      closed = true;
      await owned?.stop();
    },
  };
}
