import { cborEncode } from '@atproto/common';
import { Secp256k1Keypair } from '@atproto/crypto';
import { COMMON_GROUND, communityToken, LABEL_VALUE, labelChanges, labelerPolicies, labelValues, parseReceivedLabel, provenanceOf, signLabel, verifyLabel, type PostLabels } from './index.js';

describe('community tokens', () => {
  it.each([
    ['left', 'left'],
    ['ward_7', 'ward-seven'],
    ['ward7', 'ward-seven'],
    ['Climate--Policy', 'climate-policy'],
    ['2024-voters', 'two-zero-two-four-voters'],
  ])('%s → %s', (id, token) => {
    expect(communityToken(id)).toBe(token);
    // A valid label value once prefixed, as the labels and the labeler record use it.
    expect(`supported-by-${communityToken(id)}`).toMatch(LABEL_VALUE);
  });
});

describe('community tokens of long ids', () => {
  // 64 characters, the longest id a curation takes: its digits spell to over 200 letters.
  const ward = `${'2024_'.repeat(12)}ward`;
  const wart = `${'2024_'.repeat(12)}wart`;

  it('still give valid values, the same in the labels as in the labeler record, and keep apart ids that share a beginning', () => {
    expect(ward).toHaveLength(64);
    const values = labelValues({ supportedBy: [ward, wart], divisiveIn: [ward], boostedBy: [wart] }, new Set([ward, wart]));
    expect(values).toHaveLength(5);
    for (const value of values) expect(value).toMatch(LABEL_VALUE);
    const published = labelerPolicies([{ id: ward, name: 'Ward' }, { id: wart, name: 'Wart' }]).labelValues;
    expect(published).toEqual(expect.arrayContaining(values));
    for (const value of published) expect(value).toMatch(LABEL_VALUE);
    expect(communityToken(ward)).not.toBe(communityToken(wart));
    expect(communityToken(ward).startsWith('two-zero-two-four-')).toBe(true);
  });
});

describe('label values from provenance', () => {
  const communities = new Set(['left', 'right', 'centre']);

  it('common-ground needs two supporting communities; opinion groups are not communities', () => {
    expect(labelValues({ supportedBy: ['left', 'right'], divisiveIn: ['centre'] }, communities)).toEqual([
      COMMON_GROUND,
      'divisive-in-centre',
      'supported-by-left',
      'supported-by-right',
    ]);
    expect(labelValues({ supportedBy: ['left', 'left/1'], divisiveIn: ['left/2'] }, communities)).toEqual(['supported-by-left']);
    expect(labelValues({ supportedBy: [], divisiveIn: [] }, communities)).toEqual([]);
  });

  it('boosted-by names each funding community of a Bridge Fund boost', () => {
    const provenance = provenanceOf({ supportedBy: ['left', 'right'], divisiveIn: [], boost: { funds: ['left', 'right'], pledged: 120, matched: 60 } });
    expect(provenance?.boostedBy).toEqual(['left', 'right']);
    expect(labelValues(provenance!, communities)).toEqual(['boosted-by-left', 'boosted-by-right', COMMON_GROUND, 'supported-by-left', 'supported-by-right']);
    expect(provenanceOf({ supportedBy: ['left'], divisiveIn: [] })?.boostedBy).toBeUndefined();
  });
});

describe('label changes', () => {
  const labels = (cid: string, ...values: string[]): PostLabels => ({ cid, values: new Set(values) });

  it('adds what is new, negates what stopped qualifying or left, and re-labels a new version', () => {
    const inForce = new Map([
      ['at://a/p/1', labels('c1', 'common-ground', 'supported-by-left')],
      ['at://a/p/2', labels('c2', 'supported-by-right')],
      ['at://a/p/3', labels('c3', 'supported-by-left')],
    ]);
    const wanted = new Map([
      ['at://a/p/1', labels('c1', 'supported-by-left')],
      ['at://a/p/3', labels('c3b', 'supported-by-left')],
      ['at://a/p/4', labels('c4', 'divisive-in-left')],
    ]);
    expect(labelChanges(inForce, wanted)).toEqual([
      { uri: 'at://a/p/1', cid: 'c1', val: 'common-ground', neg: true },
      { uri: 'at://a/p/2', cid: 'c2', val: 'supported-by-right', neg: true },
      { uri: 'at://a/p/3', cid: 'c3b', val: 'supported-by-left', neg: false },
      { uri: 'at://a/p/4', cid: 'c4', val: 'divisive-in-left', neg: false },
    ]);
    expect(labelChanges(wanted, wanted)).toEqual([]);
  });
});

describe('label signatures', () => {
  const base = { ver: 1 as const, src: 'did:plc:labeler', uri: 'at://did:plc:x/app.bsky.feed.post/1', cid: 'bafyreia', val: 'common-ground', cts: '2026-12-03T10:00:00.000Z' };

  it('signs the DAG-CBOR of the label without sig, as Ozone encodes it, and verifies against the did:key', async () => {
    const key = await Secp256k1Keypair.create();
    const signed = await signLabel({ ...base, neg: false }, key);
    expect(signed).not.toHaveProperty('neg');
    // Ozone's signLabel encodes the same fields with @atproto/common's cborEncode.
    const ozoneBytes = cborEncode({ ver: 1, src: base.src, uri: base.uri, cid: base.cid, val: base.val, cts: base.cts });
    // secp256k1 signatures here are deterministic (RFC 6979): the same bytes give the same signature.
    expect(Buffer.from(await key.sign(ozoneBytes))).toEqual(Buffer.from(signed.sig));
    expect(await verifyLabel({ ...signed }, key.did())).toBe(true);
    const negation = await signLabel({ ...base, neg: true }, key);
    expect(negation.neg).toBe(true);
    expect(await verifyLabel(negation, key.did())).toBe(true);
  });

  it('verifies a received label over the fields it carries: `neg: false`, as @skyware/labeler signs it, included', async () => {
    const key = await Secp256k1Keypair.create();
    const fields = { ...base, neg: false };
    const received = parseReceivedLabel({ ...fields, sig: await key.sign(cborEncode(fields)) });
    expect(received).toMatchObject({ neg: false });
    expect(await verifyLabel(received!, key.did())).toBe(true);
    const { neg: _neg, ...withoutNeg } = received!;
    expect(await verifyLabel(withoutNeg, key.did())).toBe(false);
    expect(await verifyLabel({ ...received!, neg: true }, key.did())).toBe(false);
    expect(await verifyLabel({ ...received!, val: 'bot' }, key.did())).toBe(false);
  });

  it('rejects a changed field, another key and a missing signature', async () => {
    const key = await Secp256k1Keypair.create();
    const other = await Secp256k1Keypair.create();
    const signed = await signLabel(base, key);
    expect(await verifyLabel({ ...signed, val: 'bot' }, key.did())).toBe(false);
    expect(await verifyLabel(signed, other.did())).toBe(false);
    expect(await verifyLabel({ ...base }, key.did())).toBe(false);
  });
});

describe('labeler policies', () => {
  it('defines every value with severity inform, blurs none, defaultSetting warn', () => {
    const policies = labelerPolicies([{ id: 'left', name: 'Left' }, { id: 'right', name: 'Right' }]);
    expect(policies.labelValues).toEqual([
      'common-ground',
      'readers-added-context',
      'supported-by-left',
      'divisive-in-left',
      'boosted-by-left',
      'supported-by-right',
      'divisive-in-right',
      'boosted-by-right',
    ]);
    for (const d of policies.labelValueDefinitions) expect(d).toMatchObject({ severity: 'inform', blurs: 'none', defaultSetting: 'warn' });
  });
});
