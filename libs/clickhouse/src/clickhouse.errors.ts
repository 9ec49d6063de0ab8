/**
 * ClickHouse's error codes that say the rows an insert carried are bad: a value does not parse,
 * or does not fit its column. Sent again, the same rows fail again, wherever and whenever.
 * Names and numbers as in ClickHouse's `src/Common/ErrorCodes.cpp`.
 *
 * @NOTE A list of the codes that blame the rows, not of those that blame the store: a code missing
 * here makes the writer wait for ClickHouse (the rows stay in the bus), a code wrongly here would
 * send good rows to the dead-letter topic. Left out on purpose: INCORRECT_NUMBER_OF_COLUMNS and
 * the like (our insert's shape, the same for every row), CANNOT_READ_ALL_DATA and
 * ATTEMPT_TO_READ_AFTER_EOF (also what a body cut off on the way looks like), and
 * FUNCTION_THROW_IF_VALUE_IS_NON_ZERO (a guard someone put on the table, rows or not).
 */
const ROW_ERRORS = {
  CANNOT_PARSE_TEXT: 6,
  CANNOT_PARSE_ESCAPE_SEQUENCE: 25,
  CANNOT_PARSE_QUOTED_STRING: 26,
  CANNOT_PARSE_INPUT_ASSERTION_FAILED: 27,
  CANNOT_PARSE_DATE: 38,
  CANNOT_PARSE_DATETIME: 41,
  TYPE_MISMATCH: 53,
  CANNOT_CONVERT_TYPE: 70,
  CANNOT_PARSE_NUMBER: 72,
  INCORRECT_DATA: 117,
  TOO_LARGE_ARRAY_SIZE: 128,
  CANNOT_READ_ARRAY_FROM_TEXT: 130,
  TOO_LARGE_STRING_SIZE: 131,
  SIZES_OF_ARRAYS_DONT_MATCH: 190,
  VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE: 321,
  CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN: 349,
  CANNOT_PARSE_UUID: 376,
  DECIMAL_OVERFLOW: 407,
  CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING: 441,
  CANNOT_PARSE_BOOL: 467,
  VIOLATED_CONSTRAINT: 469,
  CANNOT_READ_MAP_FROM_TEXT: 563,
  UNEXPECTED_DATA_AFTER_PARSED_VALUE: 632,
  CANNOT_PARSE_IPV4: 675,
  CANNOT_PARSE_IPV6: 676,
  UNKNOWN_ELEMENT_OF_ENUM: 691,
} as const;
const ROW_ERROR_CODES = new Set<number>(Object.values(ROW_ERRORS));

/**
 * The ClickHouse error code an error carries, if any: `@clickhouse/client`'s `ClickHouseError`
 * has it as a string of digits in `code`, chDB's own insert errors as a number in
 * `clickhouseCode`, and a message ClickHouse wrote starts `Code: N.`.
 */
export function clickHouseErrorCode(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, clickhouseCode } = error as { code?: unknown; clickhouseCode?: unknown };
  if (typeof clickhouseCode === 'number') return clickhouseCode;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const written = /^Code: (\d+)\./.exec(error.message);
  return written ? Number(written[1]) : undefined;
}

/**
 * True when ClickHouse refused an insert because of the rows it carried; false for everything
 * else (an unreachable server, a full disk, too many parts, a read-only table, a memory limit, a
 * timeout, an error without a code), which is the store's trouble and passes.
 */
export function isRowError(error: unknown): boolean {
  const code = clickHouseErrorCode(error);
  return code !== undefined && ROW_ERROR_CODES.has(code);
}

/** The server could not be reached, or did not answer in time; `cause` says how. */
export class ClickHouseUnavailableError extends Error {
  override name = 'ClickHouseUnavailableError';
}

/**
 * How a request that never reached ClickHouse, or lost it on the way, fails: Node's socket and
 * resolver codes, ClickHouse's own NETWORK_ERROR and SOCKET_TIMEOUT, and the message of
 * `@clickhouse/client`'s `request_timeout`.
 */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const NETWORK_ERRORS = { SOCKET_TIMEOUT: 209, NETWORK_ERROR: 210 } as const;
const NETWORK_ERROR_CODES = new Set<number>(Object.values(NETWORK_ERRORS));
const CLIENT_TIMEOUT_MESSAGE = 'Timeout error.';

/** True when `error` (or an error it was caused by) says ClickHouse was not reached, not that it refused the request. */
export function isConnectionError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
    const clickhouseCode = clickHouseErrorCode(current);
    if (clickhouseCode !== undefined && NETWORK_ERROR_CODES.has(clickhouseCode)) return true;
    if (current.message === CLIENT_TIMEOUT_MESSAGE) return true;
    current = current.cause;
  }
  return false;
}

/** ClickHouse's answer to a query whose `query_id` names one still running (`replace_running_query` off). */
export const QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING = 216;
