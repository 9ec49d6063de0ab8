// A free TCP port on 127.0.0.1 for a server a test starts a little later (a broker, an app process).
//
// @NOTE Not the port the kernel hands out for `listen(0)`: that comes from the ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range, 32768–60999 by default), which is also where every
// outgoing connection takes its local port. With several test processes side by side, a port
// released here was often taken by some client's connection (or another process's `listen(0)`)
// before the server meant for it bound it: EADDRINUSE. A random port below that range, checked
// free by binding it, is out of reach of both.
import { readFileSync } from 'node:fs';
import net from 'node:net';

const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralStart() {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > LOWEST + 1_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** @param {number} port @returns {Promise<boolean>} */
function canBind(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** @returns {Promise<number>} */
export async function freePort() {
  const highest = ephemeralStart();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (highest - LOWEST));
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found between ${LOWEST} and ${highest}`);
}
