import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs on stderr (stdout stays free for command output such as
 * `opsight clickhouse`). Secrets never reach a log line: redaction covers the usual paths.
 */
export type { Logger };

let root: Logger = pino(
  {
    level: process.env.OPSIGHT_LOG_LEVEL ?? 'info',
    base: { service: 'opsight' },
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'authorization',
        '*.authorization',
        'headers.authorization',
      ],
      censor: '***',
    },
  },
  pino.destination(2),
);

export function setLogLevel(level: string): void {
  root.level = level;
}

export function logger(component: string): Logger {
  return root.child({ component });
}

/** Tests silence or capture logs through this. */
export function replaceRootLogger(next: Logger): void {
  root = next;
}
