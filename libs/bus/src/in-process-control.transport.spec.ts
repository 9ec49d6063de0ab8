import { lastValueFrom } from 'rxjs';
import { InProcessBus } from './in-process.bus.js';
import { InProcessControlClient, type InProcessControlContext, InProcessControlServer } from './in-process-control.transport.js';

const TOPIC = 'cg.control.test.v1';

describe('the in-process control transport (@nestjs/microservices over the in-process bus)', () => {
  it('delivers each emitted event to the handler of its pattern in every server, once the handlers have run', async () => {
    const bus = new InProcessBus({ retainedTopics: [TOPIC] });
    const received: { server: string; data: unknown; topic: string }[] = [];
    const servers = ['a', 'b'].map((name) => {
      const server = new InProcessControlServer(bus);
      server.addHandler(
        TOPIC,
        async (data: unknown, context: InProcessControlContext) => void received.push({ server: name, data, topic: context.getTopic() }),
        true,
      );
      return server;
    });
    for (const server of servers) await new Promise<void>((resolve, reject) => void server.listen((error?: unknown) => (error ? reject(error) : resolve())));
    const client = new InProcessControlClient(bus);
    try {
      await bus.publish(TOPIC, [{ key: TOPIC, value: 'not json' }]);
      await lastValueFrom(client.emit(TOPIC, { v: 1, version: 7 }), { defaultValue: undefined });
      // The emit resolves once both servers' handlers have run: nothing to wait for.
      expect(received.sort((x, y) => x.server.localeCompare(y.server))).toEqual([
        { server: 'a', data: { v: 1, version: 7 }, topic: TOPIC },
        { server: 'b', data: { v: 1, version: 7 }, topic: TOPIC },
      ]);
      await expect(lastValueFrom(client.send(TOPIC, {}))).rejects.toThrow('events only');
    } finally {
      for (const server of servers) await server.close();
      await client.close();
      await bus.close();
    }
  });

  it('acknowledges an event nobody listens to yet, so a process never waits for its own start-up', async () => {
    const bus = new InProcessBus({ retainedTopics: [TOPIC] });
    const client = new InProcessControlClient(bus);
    const emitted = lastValueFrom(client.emit(TOPIC, { v: 1 }), { defaultValue: undefined }).then(() => 'acknowledged');
    let timer: NodeJS.Timeout | undefined;
    const waiting = new Promise((resolve) => (timer = setTimeout(resolve, 2_000, 'still waiting')));
    await expect(Promise.race([emitted, waiting])).resolves.toBe('acknowledged');
    clearTimeout(timer);
    await bus.close();
  });
});
