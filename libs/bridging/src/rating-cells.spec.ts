import { aggregateCells, CellKind } from './rating-cells.js';
import { InteractionTableBuilder, sliceTableByTime } from './interaction-table.js';
import { Signal } from './signal.js';
import { BridgingInputError } from './errors.js';

describe('interaction table and cells', () => {
  it('maps string ids to dense indices in order of first appearance', () => {
    const b = new InteractionTableBuilder({ capacity: 1 });
    for (let i = 0; i < 100; i++) b.add(`did:plc:${i % 7}`, `at://p/${i % 3}`, Signal.Seen, i);
    const t = b.build();
    expect([t.rowCount, t.userCount, t.postCount]).toEqual([100, 7, 3]);
    expect(b.users.idAt(3)).toBe('did:plc:3');
    expect(b.posts.indexOf('at://p/2')).toBe(2);
    expect(sliceTableByTime(t, 10, 20).rowCount).toBe(10);
  });

  it('collapses a user’s signals on a post into one cell: strongest approval, later of approve/requestLess wins', () => {
    const b = new InteractionTableBuilder();
    b.add('u', 'p', Signal.Seen, 1).add('u', 'p', Signal.Like, 2).add('u', 'p', Signal.Repost, 3);
    b.add('v', 'p', Signal.Like, 1).add('v', 'p', Signal.RequestLess, 5);
    b.add('w', 'p', Signal.RequestLess, 1).add('w', 'p', Signal.Like, 5);
    b.add('x', 'p', Signal.Seen, 1);
    const follower = b.users.intern('y');
    // Exposure hints: one duplicates an observed cell (absorbed), one adds an exposure-only cell.
    const cells = aggregateCells(b.build(), { exposurePairs: { user: Uint32Array.of(0, follower), post: Uint32Array.of(0, 0), count: 2 } });
    expect(cells.cellCount).toBe(5);
    expect(cells.kind[cells.userCells[cells.userOffsets[follower]!]!]).toBe(CellKind.Exposed);
    const byUser = (u: string) => cells.userCells[cells.userOffsets[b.users.indexOf(u)!]!]!;
    expect([cells.kind[byUser('u')], cells.strength[byUser('u')]]).toEqual([CellKind.Approval, Math.fround(1.2)]);
    expect([cells.kind[byUser('v')], cells.strength[byUser('v')]]).toEqual([CellKind.Negative, -1]);
    expect(cells.kind[byUser('w')]).toBe(CellKind.Approval);
    expect(cells.kind[byUser('x')]).toBe(CellKind.Seen);
  });

  it('rejects rows that point outside the table', () => {
    const b = new InteractionTableBuilder();
    b.add('u', 'p', Signal.Like, 1);
    const t = b.build();
    expect(() => aggregateCells({ ...t, post: Uint32Array.of(5) })).toThrow(BridgingInputError);
    expect(() => aggregateCells(t, { exposurePairs: { user: Uint32Array.of(9), post: Uint32Array.of(0), count: 1 } })).toThrow(BridgingInputError);
  });
});
