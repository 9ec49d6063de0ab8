import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Keypair } from '@atproto/crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A did:plc-shaped identifier (24 characters of lower-case base32, as the PLC directory issues)
 * derived from `seed`: the same participant of the same conversation always gets the same DID.
 */
export function deterministicDidPlc(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of digest) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < 24) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length === 24) break;
  }
  return `did:plc:${out}`;
}

/**
 * The DID document a PLC directory serves for an account: its `#atproto` signing key as a Multikey
 * (what @atproto/identity's `getKey` reads) and a PDS endpoint.
 */
function didDocumentOf(did: string, keypair: Keypair, handle: string, labeler?: LabelerService): Record<string, unknown> {
  const multikey = (key: Keypair) => key.did().slice('did:key:'.length);
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1', 'https://w3id.org/security/suites/secp256k1-2019/v1'],
    id: did,
    alsoKnownAs: [`at://${handle}`],
    verificationMethod: [
      { id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase: multikey(keypair) },
      ...(labeler ? [{ id: `${did}#atproto_label`, type: 'Multikey', controller: did, publicKeyMultibase: multikey(labeler.key) }] : []),
    ],
    service: [
      { id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://pds.eval.invalid' },
      ...(labeler ? [{ id: '#atproto_labeler', type: 'AtprotoLabeler', serviceEndpoint: labeler.endpoint }] : []),
    ],
  };
}

/** A labeler's part of a DID document: its `#atproto_label` key and `#atproto_labeler` endpoint. */
export interface LabelerService {
  key: Keypair;
  endpoint: string;
}

export interface PlcDirectoryServer {
  /** `http://127.0.0.1:PORT`: give it to the app as `PLC_URL`. */
  readonly url: string;
  /** Requests answered so far (a verifier caches documents: one per DID is expected). */
  readonly requests: number;
  publish(did: string, keypair: Keypair, handle: string, labeler?: LabelerService): void;
  close(): Promise<void>;
}

/**
 * The read side of a PLC directory on 127.0.0.1 (`GET /<did>` → DID document, 404 when unknown),
 * enough for the feed generator's service-auth verifier to resolve the keys of the evaluation's
 * accounts. Needs `IDENTITY_ALLOW_INSECURE=true` in the app (plain http on a local port).
 */
export async function startPlcDirectory(): Promise<PlcDirectoryServer> {
  const docs = new Map<string, string>();
  let requests = 0;
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests += 1;
    const path = new URL(request.url ?? '/', 'http://plc.invalid').pathname;
    const doc = request.method === 'GET' ? docs.get(decodeURIComponent(path.slice(1))) : undefined;
    if (doc === undefined) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"DID not registered"}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/did+ld+json' }).end(doc);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    publish(did, keypair, handle, labeler) {
      docs.set(did, JSON.stringify(didDocumentOf(did, keypair, handle, labeler)));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
