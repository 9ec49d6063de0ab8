import { ClickHouseError } from '@clickhouse/client';
import { clickHouseErrorCode, isRowError } from './clickhouse.errors.js';

/** An error as chDB's own insert path throws it: the code as a number beside its own `code`. */
const chdbInsertError = (message: string) =>
  Object.assign(new Error(message), { code: 'CHDB_INSERT', clickhouseCode: Number(/^Code: (\d+)/.exec(message)![1]) });

describe('ClickHouse errors', () => {
  it.each([
    ['a server refusing a value that does not parse', new ClickHouseError({ message: 'Cannot parse input', code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' }), 27, true],
    ['chDB refusing half a surrogate pair', chdbInsertError('Code: 25. DB::Exception: Cannot parse escape sequence. (CANNOT_PARSE_ESCAPE_SEQUENCE)'), 25, true],
    ['a message ClickHouse wrote, type mismatch', new Error('Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)'), 53, true],
    ['a check constraint', new ClickHouseError({ message: 'Constraint violated', code: '469', type: 'VIOLATED_CONSTRAINT' }), 469, true],
    ['too many parts', chdbInsertError('Code: 252. DB::Exception: Too many parts. (TOO_MANY_PARTS)'), 252, false],
    ['a full disk', new ClickHouseError({ message: 'Not enough space', code: '243', type: 'NOT_ENOUGH_SPACE' }), 243, false],
    ['a read-only table', new ClickHouseError({ message: 'Table is in readonly mode', code: '242', type: 'TABLE_IS_READ_ONLY' }), 242, false],
    ['a memory limit', new Error('Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)'), 241, false],
    ['a timeout', new ClickHouseError({ message: 'Timeout exceeded', code: '159', type: 'TIMEOUT_EXCEEDED' }), 159, false],
    ['an unreachable server', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }), undefined, false],
    ['an error with no code', new Error('Timeout error.'), undefined, false],
    ['something thrown that is not an error', 'Code: 27. DB::Exception: Cannot parse input', undefined, false],
  ])('tell the rows from the store: %s', (_case, error, code, rows) => {
    expect(clickHouseErrorCode(error)).toBe(code);
    expect(isRowError(error)).toBe(rows);
  });
});
