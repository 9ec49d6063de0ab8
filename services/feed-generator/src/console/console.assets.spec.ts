import { Script } from 'node:vm';
import { consolePage } from './console.page.js';
import { consoleScript } from './console.script.js';
import { parseProvenance } from './feed-preview.service.js';

describe('console assets', () => {
  it('serves a script that parses as plain JavaScript (no build step catches mistakes)', () => {
    expect(() => new Script(consoleScript, { filename: 'console.js' })).not.toThrow();
  });

  it('loads its script and stylesheet from this origin only, with no inline code', () => {
    expect(consolePage).toContain('<script src="/console/console.js" defer></script>');
    expect(consolePage).toContain('<link rel="stylesheet" href="/console/console.css">');
    expect(consolePage).not.toMatch(/<script>|\sstyle=|\son[a-z]+=/);
    expect(consolePage).toMatch(/<label for="token">Admin token<\/label>/);
  });

  it('reads the provenance feedContext, and nothing that is not one', () => {
    expect(parseProvenance('{"v":1,"b":["alpha","beta"],"d":["gamma"],"+":2}')).toEqual({
      supportedBy: ['alpha', 'beta'],
      divisiveIn: ['gamma'],
      omitted: 2,
      summary: 'bridging in alpha and beta · divisive in gamma',
    });
    expect(parseProvenance('{"v":2}')).toBeNull();
    expect(parseProvenance('not json')).toBeNull();
    expect(parseProvenance(null)).toBeNull();
  });
});
