import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { AppConfig } from '#lib/config';
import { RANKER_TOPIC, type MessageBus } from '#lib/contracts';
import type { KafkaLogLevel, KafkaPartitionGroup } from '#lib/kafka';
import type { Logger } from '#lib/platform';

/** Injection token of this process's `RankerAssignment`. */
export const RANKER_ASSIGNMENT = Symbol('RANKER_ASSIGNMENT');

/** The partition whose holder does the work that is not per feed (see `RankerAssignment.ownsShared`). */
export const SHARED_WORK_PARTITION = 0;

/** What `/status` says of a ranker's share. */
export interface RankerShare {
  ranker: string;
  /** The partitions held now, or `all` (embedded mode: the one ranker computes every feed). */
  partitions: readonly number[] | 'all';
  partitionCount: number;
  /** Whether this ranker settles the Bridge Funds and emits the labels. */
  shared: boolean;
}

/**
 * Which feeds this ranker computes. A feed belongs to one partition of the rankers' topic (its
 * URI hashed); the ranker that holds the partition computes the feed and writes everything of it:
 * snapshots, digest editions, conversation reports, boost allocations, pruning.
 *
 * @NOTE Work that is not per feed has one writer too: the holder of partition 0 settles every
 * Bridge Fund (the ledger is per community, fed by the impressions of several feeds that may sit
 * with different rankers) and emits the labels (a label is per post, derived from every ranked
 * feed; its sequence numbers need one writer). Per-community hashing would split the funds too,
 * but the labels' sequence cannot be split, and one fixed partition keeps both in one place.
 */
export interface RankerAssignment {
  /** This ranker's name in claims, snapshots and logs: host, process and a random part. */
  readonly id: string;
  start(): Promise<void>;
  /** Gives the feeds up (leaves the group: the others take them over at once). */
  stop(): Promise<void>;
  owns(feed: string): boolean;
  ownsShared(): boolean;
  /** Calls `listener` whenever the share changes (a rebalance began, or a new assignment). */
  onChange(listener: () => void): void;
  share(): RankerShare;
}

const rankerId = () => `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/** Embedded mode, or one ranker without Kafka: it computes every feed and does the shared work. */
class WholeAssignment implements RankerAssignment {
  readonly id = rankerId();
  start = () => Promise.resolve();
  stop = () => Promise.resolve();
  owns = () => true;
  ownsShared = () => true;
  onChange(): void {}
  share(): RankerShare {
    return { ranker: this.id, partitions: 'all', partitionCount: 1, shared: true };
  }
}

/**
 * Scaled mode: the partitions of the rankers' topic shared out by a Kafka consumer group.
 *
 * @NOTE Plain kafkajs group membership, not `@nestjs/microservices`: the control plane's Kafka
 * transport hands messages to `@EventPattern` handlers (one group per process, so every process
 * hears every event), whereas a ranker needs the opposite, a group shared by the rankers and the
 * partitions it assigns: the rankers' topic carries no messages at all. The control plane still
 * carries what every ranker must hear (curation changes).
 */
class PartitionAssignment implements RankerAssignment {
  readonly id = rankerId();

  constructor(
    private readonly group: KafkaPartitionGroup,
    private readonly ensureTopic: () => Promise<void>,
  ) {}

  async start(): Promise<void> {
    await this.ensureTopic();
    await this.group.start();
  }

  stop(): Promise<void> {
    return this.group.stop();
  }

  owns(feed: string): boolean {
    return this.group.holds(this.group.partitionOf(feed));
  }

  ownsShared(): boolean {
    return this.group.holds(SHARED_WORK_PARTITION);
  }

  onChange(listener: () => void): void {
    this.group.onChange(listener);
  }

  share(): RankerShare {
    const { partitions, partitionCount } = this.group.state;
    return { ranker: this.id, partitions, partitionCount, shared: this.ownsShared() };
  }
}

/** The assignment of this process: partitions of a Kafka group in scaled mode, everything in embedded mode. */
export async function createRankerAssignment(config: AppConfig, bus: MessageBus, logger: Logger): Promise<RankerAssignment> {
  if (config.bus.kind === 'in-process') return new WholeAssignment();
  // Loaded only in scaled mode, like the Kafka bus.
  const { KafkaPartitionGroup } = await import('#lib/kafka');
  const { partitions, groupId, sessionTimeoutMs } = config.scoring.rankers;
  const log = logger.child({ component: 'ranker-group' });
  const group = new KafkaPartitionGroup({
    brokers: config.bus.brokers,
    ssl: config.bus.ssl,
    sasl: config.bus.sasl,
    clientId: `${config.bus.clientId}-ranker`,
    groupId,
    topic: config.bus.topicPrefix + RANKER_TOPIC,
    sessionTimeoutMs,
    logLevel: 'warn',
    log: (level: KafkaLogLevel, message: string, extra?: Record<string, unknown>) => log[level](extra ?? {}, message),
  });
  // The bus puts the deployment's prefix in front, as the group's topic name has it.
  return new PartitionAssignment(group, () => bus.ensureTopics([{ name: RANKER_TOPIC, partitions }]));
}
