import { AtpAgent } from '@atproto/api';
import type { TestAccount } from './atproto-network.js';

/** An agent logged in at `service` (a PDS) as `account`, the way a Bluesky client talks to its PDS. */
export async function loginAgent(service: string, account: Pick<TestAccount, 'handle' | 'password'>): Promise<AtpAgent> {
  const agent = new AtpAgent({ service });
  await agent.login({ identifier: account.handle, password: account.password });
  return agent;
}

/**
 * Creates an app password for `account` (`com.atproto.server.createAppPassword`, which needs a session opened with
 * the account's own password) and returns it: what an operator puts in BSKY_APP_PASSWORD.
 */
export async function createAppPassword(service: string, account: Pick<TestAccount, 'handle' | 'password'>, name: string): Promise<string> {
  const agent = await loginAgent(service, account);
  const { data } = await agent.com.atproto.server.createAppPassword({ name });
  await agent.logout();
  return data.password;
}
