import { setTimeout as sleep } from 'node:timers/promises';
import { BusUnavailableError } from '#lib/contracts';
import type { KafkaLogLevel } from './kafka.config.js';

// Backoff between whole attempts (a publish, creating topics, joining a group); all of them
// together are bounded by the caller's deadline.
const RETRY_INITIAL_MS = 250;
const RETRY_MAX_MS = 2_000;

export interface RetryTransientOptions {
  /** What is attempted, for the log and the error (`creating topics x, y`). */
  what: string;
  /** Epoch ms after which no new attempt starts. */
  deadline: number;
  attempt: () => Promise<void>;
  /** True once the caller gave up (closed, stopping): the retries end quietly. */
  abandoned: () => boolean;
  log: (level: KafkaLogLevel, message: string, extra: Record<string, unknown>) => void;
}

/**
 * Runs `attempt` until it succeeds, retrying transient failures (an unreachable broker, a leader
 * move) with a growing pause while the deadline allows; any other failure, or the deadline, rejects
 * with `BusUnavailableError`. Stops quietly once `abandoned()`.
 *
 * @NOTE kafkajs's own retries give up on an unreachable broker within seconds, and some of its calls
 * (admin metadata) fail at once on a connection lost midway. A broker restart outlasts both, so every
 * step a process takes with Kafka at start-up goes through here, whatever the step before it waited for.
 */
export async function retryTransient({ what, deadline, attempt, abandoned, log }: RetryTransientOptions): Promise<void> {
  for (let n = 1; ; n++) {
    try {
      await attempt();
      return;
    } catch (error) {
      const wait = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** (n - 1));
      if (abandoned()) return;
      if (!isTransient(error) || Date.now() + wait >= deadline) {
        throw new BusUnavailableError(`${what} failed after ${n} attempt(s): ${describeKafkaError(error)}`, { cause: error });
      }
      log('warn', `${what} failed; retrying`, { attempt: n, retryInMs: wait, error: describeKafkaError(error) });
      await sleep(wait);
      if (abandoned()) return;
    }
  }
}

/**
 * Errors worth another attempt: connection trouble, retriable broker answers, and a broker going
 * away in the middle of a request.
 *
 * @NOTE kafkajs reads its broker pool's metadata, which a disconnect sets to null, without looking:
 * a broker that restarts while topics are created or their leaders awaited fails the call with
 * `TypeError: Cannot read properties of null (reading 'topicMetadata')` from inside kafkajs
 * (`admin.fetchTopicMetadata`). A scoring process starting just then exited on it. Only a TypeError
 * thrown inside kafkajs counts; one of ours still fails at once.
 */
export function isTransient(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    const retriable = (current as { retriable?: unknown }).retriable;
    if (current.name === 'KafkaJSProtocolError') return retriable === true;
    if (/Connection|BrokerNotFound|Metadata|Timeout|NumberOfRetriesExceeded|LockTimeout/.test(current.name)) return true;
    if (current instanceof TypeError && thrownInsideKafkajs(current)) return true;
    if (current.cause === current) break;
    current = current.cause;
  }
  return false;
}

/** Whether the innermost frame of `error`'s stack is kafkajs's own code. */
function thrownInsideKafkajs(error: Error): boolean {
  const frame = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  return frame !== undefined && /[\\/]node_modules[\\/]kafkajs[\\/]src[\\/]/.test(frame);
}

/** One line for a kafkajs failure: its name, message, the refusals it gathered and its cause. */
function describeKafkaError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error && error.cause !== error ? ` (${error.cause.message})` : '';
    // kafkajs gathers the refusal of each topic created at once (a replication factor above the
    // brokers', say) in `errors`, under a message that names none of them.
    const { errors } = error as { errors?: unknown };
    const gathered = Array.isArray(errors) ? errors.filter((item) => item instanceof Error) : [];
    const each = gathered.length > 0 ? `: ${[...new Set(gathered.map((item) => item.message))].join('; ')}` : '';
    return `${error.name}: ${error.message}${each}${cause}`;
  }
  return String(error);
}
