import { DeadLetterHeaders, MessageDecodeError, type MessageBatch, type OutgoingMessage } from '#lib/contracts';

export interface DecodedBatch<T> {
  decoded: T[];
  /** Messages that do not match the topic's schema, ready for the dead-letter topic. */
  rejected: OutgoingMessage[];
}

/** Decodes a batch; a message that fails its schema becomes a dead-letter message with the reason in headers. */
export function decodeBatch<T>(batch: MessageBatch, decode: (value: string) => T): DecodedBatch<T> {
  const decoded: T[] = [];
  const rejected: OutgoingMessage[] = [];
  for (const message of batch.messages) {
    try {
      decoded.push(decode(message.value));
    } catch (error) {
      if (!(error instanceof MessageDecodeError)) throw error;
      rejected.push({
        key: message.key ?? '',
        value: message.value,
        headers: {
          [DeadLetterHeaders.reason]: error.message,
          [DeadLetterHeaders.sourceTopic]: batch.topic,
          [DeadLetterHeaders.sourcePartition]: String(batch.partition),
          [DeadLetterHeaders.sourceOffset]: message.offset,
        },
      });
    }
  }
  return { decoded, rejected };
}
