import fc from 'fast-check';
import { feedSkeletonParams, GetFeedSkeletonParams } from './feed-skeleton.params.js';
import { parseParams } from './request-input.js';

/** The schema's answer: its output, or the message of the error it throws. */
function bySchema(query: unknown): unknown {
  try {
    return parseParams(GetFeedSkeletonParams, query);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function direct(query: unknown): unknown {
  try {
    return feedSkeletonParams(query);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const feed = 'at://did:plc:publisher/app.bsky.feed.generator/bridging';
/** Values a query parameter takes: absent, empty, repeated, at and past its bound, and numbers of every shape. */
const parameter = (maxLength: number) =>
  fc.oneof(
    fc.constant(undefined),
    fc.constant(''),
    fc.string({ maxLength: 8 }),
    fc.constantFrom('0', '1', '007', '50', '100', '101', '1000', '-1', '-0', '1e2', '12.5', ' 5', '5 ', '0x10', 'abc'),
    fc.integer({ min: -5, max: 120 }).map(String),
    fc.constant('x'.repeat(maxLength)),
    fc.constant('x'.repeat(maxLength + 1)),
    fc.array(fc.string({ maxLength: 4 }), { minLength: 2, maxLength: 3 }),
  );

describe('getFeedSkeleton parameters', () => {
  it('reads every query exactly as the schema does: the same output, or the same error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(feed), parameter(8192)), parameter(16), parameter(512), (feedValue, limit, cursor) => {
        const query = Object.fromEntries(Object.entries({ feed: feedValue, limit, cursor }).filter(([, value]) => value !== undefined));
        expect(direct(query)).toEqual(bySchema(query));
      }),
      { numRuns: 3_000 },
    );
  });

  it('takes a well-formed request without the schema, and leaves the wording of a refusal to it', () => {
    expect(feedSkeletonParams({ feed, limit: '20', cursor: 's1::20::bafy' })).toEqual({ feed, limit: 20, cursor: 's1::20::bafy' });
    expect(feedSkeletonParams({ feed })).toEqual({ feed, limit: 50, cursor: undefined });
    expect(() => feedSkeletonParams({ feed, limit: '101' })).toThrow('Error: limit can not be greater than 100');
    expect(() => feedSkeletonParams({ limit: '10' })).toThrow('Error: Params must have the property "feed"');
  });
});
