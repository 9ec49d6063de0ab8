import type { PipelineEventV1 } from '#lib/contracts';
import { mapJetstreamEvent } from '#lib/domain';
import { generateJetstreamEvents } from '#lib/testing';
import { EVENT_TABLE_COLUMNS, rowsOf } from './event.repository.js';

describe('event rows', () => {
  it('only fill columns the insert names, so no field is dropped on the way to ClickHouse', () => {
    const { events } = generateJetstreamEvents({ seed: 11, users: 300, events: 6_000, startUs: 1_700_000_000_000_000, mix: { other: 0 } });
    const mapped = events.flatMap((raw) => {
      const result = mapJetstreamEvent(raw);
      return result.kind === 'event' ? [result.event] : ([] as PipelineEventV1[]);
    });
    // The generator writes no Bridge Fund pledges: one, and its withdrawal.
    const pledger = 'did:plc:pledger000000000000000000';
    mapped.push(
      { v: 1, type: 'pledge', op: 'create', did: pledger, timeUs: 1_700_000_000_000_001, rkey: '3kpledge', createdAtMs: 1_700_000_000_000, subjectUri: `at://${pledger}/app.bsky.feed.post/3kpost`, community: 'climate', amount: 5 },
      { v: 1, type: 'pledge', op: 'delete', did: pledger, timeUs: 1_700_000_000_000_002, rkey: '3kpledge' },
    );
    // What accounts ask of feeds: rare enough that the generator makes none.
    mapped.push({ v: 1, type: 'visibility', op: 'create', did: 'did:plc:asker', timeUs: 1_700_000_000_000_001, rkey: 'self', hideFromAlgorithms: true });
    // Context notes: a note, a rating of it, a request, and their withdrawals.
    const writer = 'did:plc:writer';
    const note = { did: writer, timeUs: 1_700_000_000_000_003, rkey: '3knote', createdAtMs: 1_700_000_000_000 };
    mapped.push(
      { v: 1, type: 'note', op: 'create', ...note, cid: 'bafynote', subjectUri: `at://${pledger}/app.bsky.feed.post/3kpost`, subjectCid: '', reason: 'factual_error', text: 'context' },
      { v: 1, type: 'rating', op: 'create', ...note, subjectUri: `at://${writer}/org.opencommunitynotes.label/3knote`, helpfulness: 'helpful' },
      { v: 1, type: 'noterequest', op: 'create', ...note, subjectUri: `at://${pledger}/app.bsky.feed.post/3kpost` },
      { v: 1, type: 'note', op: 'delete', did: writer, timeUs: 1_700_000_000_000_004, rkey: '3knote' },
      { v: 1, type: 'rating', op: 'delete', did: writer, timeUs: 1_700_000_000_000_004, rkey: '3knote' },
      { v: 1, type: 'noterequest', op: 'delete', did: writer, timeUs: 1_700_000_000_000_004, rkey: '3knote' },
    );
    const rows = rowsOf(mapped);
    for (const [table, values] of Object.entries(rows) as [keyof typeof EVENT_TABLE_COLUMNS, object[]][]) {
      expect(values.length).toBeGreaterThan(0);
      const columns = new Set(EVENT_TABLE_COLUMNS[table]);
      const used = new Set(values.flatMap((row) => Object.keys(row)));
      expect([...used].filter((key) => !columns.has(key))).toEqual([]);
    }
  });
});
