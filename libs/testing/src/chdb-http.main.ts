/**
 * TEST FIXTURE entry point: `node dist/libs/testing/src/chdb-http.main.js <data-dir> [port]`
 * serves chDB over ClickHouse's HTTP interface until SIGTERM (see chdb-http.server.ts).
 */
import { startChdbHttpServer } from './chdb-http.server.js';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write('usage: chdb-http.main.js <data-dir> [port]\n');
  process.exit(2);
}
const server = await startChdbHttpServer({ path: dataDir, port: port ? Number(port) : 0 });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
