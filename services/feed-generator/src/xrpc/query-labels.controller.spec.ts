import type { LabelQuery, LabelRepository } from '#lib/clickhouse';
import type { SequencedLabel } from '#lib/labels';
import { QueryLabelsController } from './query-labels.controller.js';
import { InvalidRequestError } from './xrpc.errors.js';

describe('queryLabels cursors', () => {
  const asked: LabelQuery[] = [];
  const labels = {
    query: async (query: LabelQuery): Promise<SequencedLabel[]> => {
      asked.push(query);
      return Promise.resolve([]);
    },
  };
  const controller = new QueryLabelsController(labels as unknown as LabelRepository);

  it('takes a sequence number of up to 15 digits, exactly', async () => {
    await controller.queryLabels({ uriPatterns: '*', cursor: '999999999999999' });
    expect(asked.at(-1)?.afterSeq).toBe(999_999_999_999_999);
  });

  it.each([
    ['16 digits, past what a double holds exactly', '9007199254740993'],
    ['20 digits, past UInt64', '99999999999999999999'],
    ['not a number', '12a'],
  ])('refuses a cursor of %s (InvalidRequest)', async (_, cursor) => {
    const before = asked.length;
    await expect(controller.queryLabels({ uriPatterns: '*', cursor })).rejects.toThrow(InvalidRequestError);
    expect(asked).toHaveLength(before);
  });
});
