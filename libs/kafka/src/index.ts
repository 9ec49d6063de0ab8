export { KafkaBus, type PartitionLag } from './kafka.bus.js';
export {
  defaultKafkaLog,
  parseBrokerList,
  resolveKafkaBusOptions,
  type KafkaBusOptions,
  type KafkaCompression,
  type KafkaLog,
  type KafkaLogLevel,
  type ResolvedKafkaBusOptions,
} from './kafka.config.js';
export { keyPartitioner, murmur2 } from './key.partitioner.js';
