import { decodeFeedCursor, encodeFeedCursor, InvalidCursorError, parsePersonalOrdering, personalOrdering } from './feed-cursor.js';

describe('feed cursors', () => {
  it('round-trips the ordering, sort key and CID of the last item', () => {
    const cursor = { ordering: 's42', sortKey: 17, cid: 'bafyreib2rxk3rh6kzwq' };
    expect(decodeFeedCursor(encodeFeedCursor(cursor))).toEqual(cursor);
    expect(encodeFeedCursor({ ordering: 't', sortKey: 1763000000000123, cid: 'bafyreiabcdefgh' })).toBe(
      't::1763000000000123::bafyreiabcdefgh',
    );
  });

  it('carries a personal ordering: the snapshot and the session whose feedback it is pinned to', () => {
    const ordering = personalOrdering({ snapshot: 1763780000000, sessionMs: 1763780012345 });
    const cursor = decodeFeedCursor(encodeFeedCursor({ ordering, sortKey: 50, cid: 'bafyreiabcdefgh' }));
    expect(cursor).toEqual({ ordering: 'p1763780000000-1763780012345', sortKey: 50, cid: 'bafyreiabcdefgh' });
    expect(parsePersonalOrdering(cursor.ordering)).toEqual({ snapshot: 1763780000000, sessionMs: 1763780012345 });
    expect(parsePersonalOrdering('s42')).toBeUndefined();
    const rest = personalOrdering({ snapshot: 42, sessionMs: 1763780012345, rest: true });
    expect(rest).toBe('p42-1763780012345r');
    expect(parsePersonalOrdering(decodeFeedCursor(`${rest}::512::bafyreiabcdefgh`).ordering)).toEqual({ snapshot: 42, sessionMs: 1763780012345, rest: true });
  });

  it.each(['', 'p42::1::bafyreiabcdefgh', 'p-1::1::bafyreiabcdefgh', 'abc', '1763000000000', 't::12', 't::-1::bafyreiabcdefgh', 'x::1::bafyreiabcdefgh', 't::1::ba fy', 't::99999999999999999999::bafyreiabcdefgh',
    // Numbers past a safe integer: a snapshot, an edition or a sort key no database type holds.
    's99999999999999999999::1::bafyreiabcdefgh', 's9999999999999999::1::bafyreiabcdefgh', 'e9999999999999999::1::bafyreiabcdefgh',
    'p9999999999999999-1::1::bafyreiabcdefgh', 's1::9999999999999999::bafyreiabcdefgh'])(
    'rejects a cursor that is not ours: %j',
    (text) => {
      expect(() => decodeFeedCursor(text)).toThrow(InvalidCursorError);
    },
  );
});
