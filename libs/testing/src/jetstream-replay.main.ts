/**
 * `node dist/libs/testing/src/jetstream-replay.main.js <events.jsonl> [port] [events-per-second]`: a
 * local Jetstream replaying a file, in its own process (benchmarks keep the sender off the measured
 * process); as fast as the client reads, or paced per connection.
 * Prints `{"url": …}` once listening; stops on SIGTERM.
 */
import { startJetstreamReplayServer } from './jetstream-replay.server.js';

const [file, port, eventsPerSecond] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: jetstream-replay.main.js <events.jsonl> [port] [events-per-second]\n');
  process.exit(2);
}
const server = await startJetstreamReplayServer({
  events: file,
  port: port ? Number(port) : 0,
  pace: eventsPerSecond ? { eventsPerSecond: Number(eventsPerSecond) } : 'asap',
});
process.stdout.write(`${JSON.stringify({ url: server.subscribeUrl, frames: server.frameCount })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
