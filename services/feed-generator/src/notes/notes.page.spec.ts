import { createHash } from 'node:crypto';
import { NOTES_PAGE_POLICY, notesPage } from './notes.page.js';
import type { PostNotes } from './notes.service.js';

const view = (status: string, text: string) => ({
  uri: `at://did:plc:w/org.opencommunitynotes.label/${status}`,
  author: 'did:plc:w',
  reason: 'factual_error',
  misleading: true,
  text,
  createdAtMs: Date.UTC(2026, 11, 3, 12, 0),
  status,
  intercept: 0.45,
  factor: -0.1,
  raters: 6,
  raterSides: { negative: 3, positive: 3 },
});

describe('the public notes page', () => {
  const notes: PostNotes = {
    post: 'at://did:plc:a/app.bsky.feed.post/3k',
    text: 'Look <script>alert(1)</script>',
    label: { src: 'did:web:localhost', val: 'readers-added-context' },
    notes: [view('helpful', 'Context with a <b>tag</b> & "quotes"'), view('needs-more-ratings', 'Still waiting')],
    omitted: 0,
    changes: [{ atMs: Date.UTC(2026, 11, 3, 12, 5), note: 'at://n', post: 'at://p', from: 'needs-more-ratings', to: 'helpful', reason: 'intercept 0.450 ≥ 0.4' }],
    requests: 2,
  };

  it('has one style sheet, the one its security policy allows by hash, which wraps long text instead of widening the page', () => {
    const html = notesPage({ ...notes, notes: [view('helpful', 'N'.repeat(3000))] }, '/api/notes?post=x');
    const sheets = [...html.matchAll(/<style>([^<]*)<\/style>/g)].map((match) => match[1]!);
    expect(sheets).toHaveLength(1);
    const hash = createHash('sha256').update(sheets[0]!).digest('base64');
    expect(NOTES_PAGE_POLICY).toContain(`style-src 'sha256-${hash}'`);
    expect(NOTES_PAGE_POLICY).toContain("default-src 'none'");
    expect(sheets[0]).toMatch(/p,dd,code,td[^{]*\{overflow-wrap:anywhere\}/);
    expect(html).not.toMatch(/ style=/);
  });

  it('escapes everything people wrote, so the page holds no markup of theirs', () => {
    const html = notesPage(notes, '/api/notes?post=x');
    expect(html).not.toContain('<script>');
    expect(html).toContain('Look &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('Context with a &lt;b&gt;tag&lt;/b&gt; &amp; &quot;quotes&quot;');
  });

  it('puts helpful notes under "Readers added context" and the others apart, with the history', () => {
    const html = notesPage(notes, '/api/notes?post=x');
    const helpful = html.slice(html.indexOf('id="helpful"'), html.indexOf('id="others"'));
    expect(helpful).toContain('Context with a');
    expect(helpful).not.toContain('Still waiting');
    expect(helpful).toContain('It contains a factual error');
    expect(html).toContain('2 accounts asked for a note');
    expect(html).toContain('<td>Needs more ratings</td><td>Rated helpful</td><td>intercept 0.450 ≥ 0.4</td>');
    expect(html).not.toContain('not listed');
  });

  it('links the post to where the Bluesky app shows it', () => {
    const post = 'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kabc2defg';
    expect(notesPage({ ...notes, post }, '/api/notes')).toContain(
      '<a href="https://bsky.app/profile/did:plc:ewvi7nxzyoun6zhxrhs64oiz/post/3kabc2defg">Open it in the Bluesky app</a>',
    );
  });

  it('says how many notes it leaves out', () => {
    const html = notesPage({ ...notes, omitted: 448 }, '/api/notes?post=x');
    const others = html.slice(html.indexOf('id="others"'), html.indexOf('id="changes"'));
    expect(others).toContain('448 more notes on this post are not listed: only the best 1 of those not rated helpful are.');
  });
});
