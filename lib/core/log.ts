/** Structured logging: one JSON line per event, with context, never with secrets. */

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields attached to a log line. Errors are serialised with their message and stack. */
export type LogFields = Record<string, unknown>;

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Where lines go; defaults to the console (stdout for info and below, stderr above). */
export type LogSink = (level: LogLevel, line: string) => void;

function consoleSink(level: LogLevel, line: string): void {
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  sink?: LogSink;
  fields?: LogFields;
  now?: () => number;
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    if (value.stack) out.stack = value.stack.split("\n").slice(0, 6).join("\n");
    if (value.cause !== undefined) out.cause = serialise(value.cause);
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** Creates a JSON-lines logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = LEVELS[options.level ?? "info"];
  const sink = options.sink ?? consoleSink;
  const base = options.fields ?? {};
  const now = options.now ?? Date.now;

  function write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < min) return;
    const record: Record<string, unknown> = { time: new Date(now()).toISOString(), level, msg };
    for (const [k, v] of Object.entries(base)) record[k] = serialise(v);
    if (fields) { for (const [k, v] of Object.entries(fields)) record[k] = serialise(v); }
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ time: record.time, level, msg, note: "fields not serialisable" });
    }
    sink(level, line);
  }

  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything; the default in tests. */
export const silentLogger: Logger = createLogger({ sink: () => {} });

/** A logger that keeps its lines in memory; for tests that assert on what was logged. */
export function memoryLogger(level: LogLevel = "debug"): Logger & { lines: LogFields[] } {
  const lines: LogFields[] = [];
  const logger = createLogger({ level, sink: (_l, line) => lines.push(JSON.parse(line)) });
  return Object.assign(logger, { lines });
}
