import { TID } from '@atproto/common';
import { conversationSinceUs } from './conversation-window.js';

describe("where a conversation's statements are read from", () => {
  const windowSinceUs = Date.UTC(2026, 11, 1) * 1000;
  const written = Date.UTC(2026, 10, 20) * 1000;
  const root = `at://did:plc:curator00000000000000000/app.bsky.feed.post/${TID.fromTime(written, 0).toString()}`;

  it("starts a root post's conversation a day before the root was written, however far back the feed's window ends", () => {
    expect(conversationSinceUs(root, windowSinceUs)).toBe(written - 86_400_000_000);
  });

  it('keeps the window when it reaches further back, or when the root’s key is no TID', () => {
    expect(conversationSinceUs(root, written - 5 * 86_400_000_000)).toBe(written - 5 * 86_400_000_000);
    expect(conversationSinceUs('at://did:plc:curator00000000000000000/app.bsky.feed.post/self', windowSinceUs)).toBe(windowSinceUs);
  });
});
