/**
 * The relay logs through this small interface so that `src/` stays free of the
 * Functions host: the queue function adapts InvocationContext to it, the local
 * runner and the tests adapt the console or a recorder.
 *
 * `props` become structured fields (customDimensions in Application Insights).
 * Never put a secret or a token in either argument; `redact()` in
 * `src/core/redact.ts` is the last line of defence, not the first.
 */
export interface Logger {
  info(message: string, props?: Record<string, unknown>): void;
  warn(message: string, props?: Record<string, unknown>): void;
  error(message: string, props?: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
};

/**
 * For components that outlive one invocation (token cache, SMTP pool): one JSON
 * line per event on stdout/stderr, which the Functions worker forwards to the
 * host's logs and Application Insights. An invocation's own logger must not be
 * kept for that: it belongs to an invocation that has ended.
 */
export const processLogger: Logger = {
  info: (message, props) => console.log(JSON.stringify({ level: 'info', message, ...props })),
  warn: (message, props) => console.warn(JSON.stringify({ level: 'warning', message, ...props })),
  error: (message, props) => console.error(JSON.stringify({ level: 'error', message, ...props })),
};
