import type { ClientProxy, CustomTransportStrategy } from '@nestjs/microservices';
import { InProcessControlClient, InProcessControlServer } from '#lib/bus';
import type { AppConfig } from '#lib/config';
import type { MessageBus } from '#lib/contracts';
import type { KafkaLogLevel } from '#lib/kafka';
import type { Logger } from './logger.js';

/**
 * The control plane: rare events every process and replica must see (a curation change), as
 * `@nestjs/microservices` message patterns. `server` delivers them to the `@EventPattern`
 * handlers (the app connects it as a microservice); `client.emit(topic, data)` announces one.
 * Kafka's transport in scaled mode, the in-process bus in embedded mode. The high-rate event path
 * stays on the bus's batch consumers.
 */
export interface ControlPlane {
  server: CustomTransportStrategy;
  client: Pick<ClientProxy, 'emit' | 'close'>;
}

export async function createControlPlane(config: AppConfig, bus: MessageBus, logger: Logger): Promise<ControlPlane> {
  if (config.bus.kind === 'in-process') return { server: new InProcessControlServer(bus), client: new InProcessControlClient(bus) };
  // Loaded only in scaled mode, like the Kafka bus.
  const { KafkaControlClient, KafkaControlServer } = await import('#lib/kafka');
  const kafkaLogger = logger.child({ component: 'control-plane' });
  const options = {
    brokers: config.bus.brokers,
    clientId: config.bus.clientId,
    topicPrefix: config.bus.topicPrefix,
    sessionTimeoutMs: config.bus.sessionTimeoutMs,
    ssl: config.bus.ssl,
    sasl: config.bus.sasl,
    logLevel: 'warn' as const,
    log: (level: KafkaLogLevel, message: string, extra?: Record<string, unknown>) => kafkaLogger[level](extra ?? {}, message),
  };
  return { server: new KafkaControlServer(options), client: new KafkaControlClient(options) };
}
