import { decodeFeedCursor, encodeFeedCursor, InvalidCursorError } from './feed-cursor.js';

describe('feed cursors', () => {
  it('round-trips the ordering, sort key and CID of the last item', () => {
    const cursor = { ordering: 's42', sortKey: 17, cid: 'bafyreib2rxk3rh6kzwq' };
    expect(decodeFeedCursor(encodeFeedCursor(cursor))).toEqual(cursor);
    expect(encodeFeedCursor({ ordering: 't', sortKey: 1763000000000123, cid: 'bafyreiabcdefgh' })).toBe(
      't::1763000000000123::bafyreiabcdefgh',
    );
  });

  it.each(['', 'abc', '1763000000000', 't::12', 't::-1::bafyreiabcdefgh', 'x::1::bafyreiabcdefgh', 't::1::ba fy', 't::99999999999999999999::bafyreiabcdefgh'])(
    'rejects a cursor that is not ours: %j',
    (text) => {
      expect(() => decodeFeedCursor(text)).toThrow(InvalidCursorError);
    },
  );
});
