import kafkajs from 'kafkajs';
import type { KafkaConfig, LogEntry, logLevel as KafkaJsLogLevel } from 'kafkajs';
import type { KafkaLogLevel, KafkaBusOptions } from './kafka.config.js';

// kafkajs is CommonJS: take its values from the default export so both Node and Jest's ESM loader agree.
const { logLevel: KafkaJsLevels } = kafkajs;

const LEVEL_NAMES = new Map<KafkaJsLogLevel, KafkaLogLevel>([
  [KafkaJsLevels.ERROR, 'error'],
  [KafkaJsLevels.WARN, 'warn'],
  [KafkaJsLevels.INFO, 'info'],
  [KafkaJsLevels.DEBUG, 'debug'],
]);
const LEVEL_ORDER: KafkaLogLevel[] = ['error', 'warn', 'info', 'debug'];
const LEVEL_VALUES: Record<KafkaLogLevel, KafkaJsLogLevel> = {
  error: KafkaJsLevels.ERROR,
  warn: KafkaJsLevels.WARN,
  info: KafkaJsLevels.INFO,
  debug: KafkaJsLevels.DEBUG,
};

/** True when a line at `level` passes the `threshold`. */
export const isLogged = (level: KafkaLogLevel, threshold: KafkaLogLevel) => LEVEL_ORDER.indexOf(level) <= LEVEL_ORDER.indexOf(threshold);

/**
 * The `logLevel` and `logCreator` of a kafkajs client: its lines, re-levelled, to `log` (the
 * project's logger), so the bus and the control plane log Kafka alike.
 */
export function kafkaJsLogging(threshold: KafkaLogLevel, log: NonNullable<KafkaBusOptions['log']>): Pick<KafkaConfig, 'logLevel' | 'logCreator'> {
  return {
    // One level lower than asked, as some kafkajs lines are re-levelled below.
    logLevel: LEVEL_VALUES[threshold === 'error' ? 'warn' : threshold],
    logCreator: () => (entry: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = entry.log as LogEntry['log'] & {
        logger?: unknown;
      };
      // @NOTE: the producer's retries are bounded on purpose (a publish must fail within
      // `publishTimeoutMs`); sequence numbers still de-duplicate the retries kafkajs does make.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      const level = kafkaJsLevel(entry.level, entry.namespace, message);
      if (!isLogged(level, threshold)) return;
      log(level, message, { namespace: entry.namespace, ...extra });
    },
  };
}

/**
 * kafkajs logs every error response at ERROR, including the ones it handles as routine (a group
 * rebalancing, a coordinator still loading) and each failed connection attempt it will retry.
 * Routine responses become debug and connection trouble a warning; failures that matter reach the
 * caller as rejected operations (or the bus's own error lines).
 */
function kafkaJsLevel(level: KafkaJsLogLevel, namespace: string, message: string): KafkaLogLevel {
  const name = LEVEL_NAMES.get(level) ?? 'info';
  if (name !== 'error') return name;
  // `BrokerPool` repeats each failed connection attempt as a warning.
  if (namespace === 'Connection' && (message.startsWith('Response ') || message.startsWith('Connection error'))) return 'debug';
  if (namespace === 'Connection' || namespace === 'BrokerPool') return 'warn';
  return name;
}
