import pino from 'pino';

/** A pino record as parsed JSON. */
export type LogRecord = Record<string, unknown> & { level: number; msg?: string };

/** A pino logger whose records are kept in memory, parsed, for tests to assert on. */
export interface LogSink {
  readonly logger: pino.Logger;
  readonly records: LogRecord[];
  /** Records whose `msg` equals or matches `message`. */
  find(message: string | RegExp): LogRecord[];
  clear(): void;
}

/** Creates a {@link LogSink}; `level` defaults to `trace` so that every record is kept. */
export function createLogSink(options: { level?: pino.LevelWithSilent } = {}): LogSink {
  const records: LogRecord[] = [];
  // pino writes each record synchronously to any object with `write(line)`.
  const destination = { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) };
  const logger = pino({ level: options.level ?? 'trace' }, destination);
  return {
    logger,
    records,
    find: (message) =>
      records.filter((record) =>
        typeof message === 'string'
          ? record.msg === message
          : message.test(String(record.msg ?? '')),
      ),
    clear: () => void (records.length = 0),
  };
}
