import { Controller, Get, Query } from '@nestjs/common';
import { z } from 'zod';
import { LabelRepository } from '#lib/clickhouse';
import { isDid, Nsid } from '#lib/domain';
import { labelJson, type LabelJson } from '../labels/label.format.js';
import { InvalidRequestError } from './xrpc.errors.js';
import { integerParam, parseParams, stringListParam, stringParam } from './request-input.js';

const QueryLabelsParams = z.object({
  uriPatterns: stringListParam({ maxLength: 8192, maxItems: 100 }).refine((patterns) => patterns.length > 0, 'must have at least one element'),
  // The lexicon's `format: did`: a source that is not one is the client's mistake, not "no labels".
  sources: stringListParam({ maxLength: 2048, maxItems: 100 }).refine((sources) => sources.every(isDid), 'must be a list of DIDs'),
  limit: integerParam({ min: 1, max: 250, fallback: 50 }),
  cursor: stringParam(20),
});

/**
 * `com.atproto.label.queryLabels`: our labels on the subjects named by `uriPatterns` (exact URIs,
 * or prefixes ending in `*`; `*` alone is every subject), the current statement per subject and
 * value (negations included, so a client learns a label was withdrawn), by sequence number.
 */
@Controller()
export class QueryLabelsController {
  constructor(private readonly labels: LabelRepository) {}

  @Get(`xrpc/${Nsid.queryLabels}`)
  async queryLabels(@Query() query: unknown): Promise<{ cursor?: string; labels: LabelJson[] }> {
    const { uriPatterns: patterns, sources, limit, cursor } = parseParams(QueryLabelsParams, query);
    // At most 15 digits, as subscribeLabels takes: a sequence number a double holds exactly.
    if (cursor !== undefined && !/^\d{1,15}$/.test(cursor)) throw new InvalidRequestError('invalid cursor');
    const exact: string[] = [];
    const prefixes: string[] = [];
    for (const pattern of patterns) {
      const star = pattern.indexOf('*');
      if (star === -1) exact.push(pattern);
      else if (star === pattern.length - 1) prefixes.push(pattern.slice(0, -1));
      else throw new InvalidRequestError(`invalid pattern: ${pattern}`);
    }
    const found = await this.labels.query({
      exact,
      prefixes,
      all: prefixes.includes(''),
      sources,
      afterSeq: cursor === undefined ? 0 : Number(cursor),
      limit,
    });
    const last = found[found.length - 1];
    return { ...(last && { cursor: String(last.seq) }), labels: found.map(labelJson) };
  }
}
