export { KafkaBus } from './kafka.bus.js';
export { parseBrokerList, type KafkaBusOptions, type KafkaLogLevel } from './kafka.config.js';
export { murmur2, partitionOfKey } from './key.partitioner.js';
export { KafkaControlClient, type KafkaControlOptions, KafkaControlServer } from './kafka-control.transport.js';
export { KafkaPartitionGroup, type KafkaPartitionGroupOptions, type PartitionGroupState } from './kafka-partition.group.js';
