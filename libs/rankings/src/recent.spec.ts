import { comesAfterInRecent } from './recent.js';

describe('recent', () => {
  it.each([
    [{ timeUs: 10, cid: 'b' }, { timeUs: 20, cid: 'a' }, true],
    [{ timeUs: 20, cid: 'a' }, { timeUs: 10, cid: 'b' }, false],
    [{ timeUs: 10, cid: 'a' }, { timeUs: 10, cid: 'b' }, true],
    [{ timeUs: 10, cid: 'b' }, { timeUs: 10, cid: 'a' }, false],
    [{ timeUs: 10, cid: 'a' }, { timeUs: 10, cid: 'a' }, false],
  ])('orders %o after the cursor %o: %s (newest first, CID breaks ties)', (post, cursor, after) => {
    expect(comesAfterInRecent(post, cursor)).toBe(after);
  });
});
