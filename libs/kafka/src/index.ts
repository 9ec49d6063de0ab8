export { KafkaBus, type PartitionLag } from './kafka.bus.js';
export {
  defaultKafkaLog,
  kafkaJsSecurity,
  parseBrokerList,
  resolveKafkaBusOptions,
  type KafkaBusOptions,
  type KafkaCompression,
  type KafkaLog,
  type KafkaLogLevel,
  type KafkaSaslOptions,
  type KafkaTlsOptions,
  type ResolvedKafkaBusOptions,
} from './kafka.config.js';
export { keyPartitioner, murmur2 } from './key.partitioner.js';
