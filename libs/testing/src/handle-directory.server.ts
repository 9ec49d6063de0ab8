import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HandleDirectoryServer {
  /** `http://127.0.0.1:PORT`: give it to the app as `IDENTITY_TEST_HANDLE_ORIGIN`. */
  readonly url: string;
  /** What the handle's domain answers: `did`, or nothing (`undefined`). */
  publish(handle: string, did: string | undefined): void;
  close(): Promise<void>;
}

/**
 * What handle domains answer at `/.well-known/atproto-did`, for handles that no DNS knows:
 * `GET /.well-known/atproto-did?handle=<handle>` → the DID as text, 404 when unknown.
 */
export async function startHandleDirectory(): Promise<HandleDirectoryServer> {
  const dids = new Map<string, string>();
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://handles.invalid');
    const did = url.pathname === '/.well-known/atproto-did' ? dids.get(url.searchParams.get('handle') ?? '') : undefined;
    if (did === undefined) response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    else response.writeHead(200, { 'content-type': 'text/plain' }).end(did);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    publish(handle, did) {
      if (did === undefined) dids.delete(handle);
      else dids.set(handle, did);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
