import { decodedParam } from './web/route-param.js';

describe("the console's routes", () => {
  it('reads the name a location hash holds, decoded', () => {
    expect(decodedParam('common')).toBe('common');
    expect(decodedParam('a%20b')).toBe('a b');
  });

  it.each(['%E0', '..', '.', '%2E%2E', 'a%2Fb'])('takes %s for no name: a fetch would not read it as one', (encoded) => {
    expect(decodedParam(encoded)).toBeUndefined();
  });
});
