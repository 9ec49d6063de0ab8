import { Secp256k1Keypair, type Keypair } from '@atproto/crypto';
import { Nsid } from '#lib/domain';

/** An account the fuzzer's PLC directory knows: tokens it signs with `keypair` verify. */
export interface FuzzAccount {
  did: string;
  keypair: Keypair;
}

export interface ForgedTokens {
  /** Tokens that verify: a known issuer, its own key, the right audience and method. */
  valid: string[];
  /** Well-formed or nearly well-formed tokens that must be refused (401), never answered 5xx. */
  forged: string[];
}

const b64url = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url');

async function sign(header: unknown, payload: unknown, keypair: Keypair): Promise<string> {
  const head = `${b64url(typeof header === 'string' ? header : JSON.stringify(header))}.${b64url(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
  return `${head}.${b64url(await keypair.sign(Buffer.from(head, 'utf8')))}`;
}

/**
 * Service-auth JWTs for the fuzzer, signed with `@atproto/crypto`: valid ones for `accounts`, and
 * forged ones — signed with keys nobody published, for issuers nobody knows, expired, for another
 * audience or method, `alg: none`, bad encodings, hostile claims.
 */
export async function forgeServiceTokens(options: { accounts: readonly FuzzAccount[]; serviceDid: string; nowSec?: number }): Promise<ForgedTokens> {
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256K', typ: 'JWT' };
  const stranger = await Secp256k1Keypair.create();
  const claims = (iss: string, lxm: string, extra: Record<string, unknown> = {}) => ({
    iss,
    aud: options.serviceDid,
    lxm,
    iat: now,
    // @NOTE Valid for the whole run: a long campaign must not turn its valid tokens into expired ones.
    exp: now + 3_600,
    jti: `fuzz-${iss}-${lxm}-${Object.keys(extra).join('-')}`,
    ...extra,
  });
  const methods = [Nsid.getFeedSkeleton, Nsid.sendInteractions];
  const valid: string[] = [];
  const forged: string[] = [];
  for (const account of options.accounts) {
    for (const lxm of methods) {
      valid.push(await sign(header, claims(account.did, lxm), account.keypair));
      valid.push(await sign(header, claims(account.did, lxm, { aud: `${options.serviceDid}#bsky_fg` }), account.keypair));
    }
  }
  const known = options.accounts[0]!;
  const lxm = Nsid.getFeedSkeleton;
  const cases: [unknown, unknown, Keypair][] = [
    [header, claims(known.did, lxm), stranger],
    [header, claims(known.did, Nsid.sendInteractions), stranger],
    [header, claims('did:plc:fuzznobody00000000000000', lxm), stranger],
    [header, claims('did:web:fuzz.invalid', lxm), stranger],
    [header, claims('did:web:127.0.0.1%3A1', lxm), stranger],
    [header, claims('not-a-did', lxm), known.keypair],
    [header, claims(`did:plc:${'a'.repeat(5000)}`, lxm), known.keypair],
    [header, claims(known.did, lxm, { exp: now - 10 }), known.keypair],
    [header, claims(known.did, lxm, { exp: 1e300 }), known.keypair],
    [header, claims(known.did, lxm, { exp: '9999999999' }), known.keypair],
    [header, claims(known.did, lxm, { exp: null }), known.keypair],
    [header, claims(known.did, lxm, { aud: 'did:web:someone.else' }), known.keypair],
    [header, claims(known.did, lxm, { aud: ['did:web:localhost'] }), known.keypair],
    [header, claims(known.did, lxm, { lxm: 'com.example.other' }), known.keypair],
    [header, claims(known.did, lxm, { lxm: undefined }), known.keypair],
    [header, claims(known.did, lxm, { iss: { did: known.did } }), known.keypair],
    [header, claims(known.did, lxm, { iss: `${known.did}#atproto_labeler` }), known.keypair],
    [header, claims(known.did, lxm, { nbf: now + 3_600 }), known.keypair],
    [{ alg: 'none', typ: 'JWT' }, claims(known.did, lxm), known.keypair],
    [{ alg: 'HS256', typ: 'JWT' }, claims(known.did, lxm), known.keypair],
    [{ alg: 'ES256', typ: 'JWT' }, claims(known.did, lxm), known.keypair],
    [{ alg: 'ES256K', typ: 'at+jwt' }, claims(known.did, lxm), known.keypair],
    [{ alg: 'ES256K', typ: 'refresh+jwt' }, claims(known.did, lxm), known.keypair],
    [{}, claims(known.did, lxm), known.keypair],
    [[], claims(known.did, lxm), known.keypair],
    ['not json', claims(known.did, lxm), known.keypair],
    [header, 'not json', known.keypair],
    [header, [], known.keypair],
    [header, null, known.keypair],
    [header, { ...claims(known.did, lxm), __proto__: { iss: 'did:plc:polluted' } }, known.keypair],
  ];
  for (const [head, payload, keypair] of cases) forged.push(await sign(head, payload, keypair));
  const good = valid[0]!;
  const [h, p, s] = good.split('.') as [string, string, string];
  forged.push(
    `${h}.${p}.`,
    `${h}.${p}`,
    `${h}.${p}.${s}.${s}`,
    `${h}.${p}.${s.slice(0, -4)}`,
    `${h}.${p}.${s.replace(/.$/, s.endsWith('A') ? 'B' : 'A')}`,
    `${h}.${b64url(JSON.stringify({ ...claims(known.did, lxm), exp: now + 7_200 }))}.${s}`,
    `${h}.${p}.${'A'.repeat(10_000)}`,
    `${h}.${p}.!!!!`,
    `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`,
    `${'a'.repeat(20_000)}.${p}.${s}`,
    '..',
    '.',
    'a.b.c',
    'e30.e30.e30',
  );
  return { valid, forged };
}
