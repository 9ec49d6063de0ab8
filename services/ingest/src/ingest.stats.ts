/** Running totals of one ingest process, for logs, metrics and the console. */
export class IngestStats {
  received = 0;
  published = 0;
  skipped = 0;
  malformed = 0;
  batches = 0;
  gaps = 0;
  /** `time_us` of the newest event the bus has acknowledged (the saved cursor). */
  checkpointUs: number | undefined;
  /** `time_us` of the newest event received. */
  receivedUs: number | undefined;
  connected = false;
  /** By commit collection, or by kind for identity and account events. */
  readonly receivedByCollection = new Map<string, number>();
  readonly publishedByType = new Map<string, number>();
  readonly malformedByReason = new Map<string, number>();

  countReceived(collection: string): void {
    this.received += 1;
    this.receivedByCollection.set(collection, (this.receivedByCollection.get(collection) ?? 0) + 1);
  }

  countPublished(type: string, count = 1): void {
    this.publishedByType.set(type, (this.publishedByType.get(type) ?? 0) + count);
  }

  countMalformed(reason: string): void {
    this.malformed += 1;
    this.malformedByReason.set(reason, (this.malformedByReason.get(reason) ?? 0) + 1);
  }
}
