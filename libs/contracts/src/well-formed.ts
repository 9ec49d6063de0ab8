/**
 * True when every string of `message`, a field's value or an item of a field's array, is
 * well-formed UTF-16: it holds no unpaired surrogate.
 *
 * @NOTE The one check of the strings that reach ClickHouse from outside: ingest's mapping of
 * Jetstream, the bus decoders of both topics and the schemas behind them all ask it. JSON may
 * carry an unpaired surrogate (`"\ud800"`) and JavaScript holds it, but ClickHouse refuses its
 * escape (Code 25) and with it the whole insert, every time: one such string would cost a
 * consumer the isolation of its message from every batch it arrives in. Messages are flat (a
 * field holds a scalar or an array of scalars), so nothing deeper is looked at.
 */
export function hasWellFormedStrings(message: object): boolean {
  const fields = message as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === 'string') {
      if (!value.isWellFormed()) return false;
    } else if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'string' && !item.isWellFormed()) return false;
    }
  }
  return true;
}

/** The reason a message or event with an unpaired surrogate is refused with (a fixed string: a metric label and a dead-letter header). */
export const ILL_FORMED_STRING = 'a string holds an unpaired surrogate';
