/**
 * Counters of this instance since it started, for the health endpoint and the
 * benchmark. Application Insights has the per-message log lines; these answer
 * "what has this instance been doing" without a query.
 */
export interface DeliveryCounters {
  delivered: number;
  /** Deliveries skipped because the ledger showed the message was already sent. */
  duplicatesSkipped: number;
  retried: number;
  deadLettered: number;
  /** Throttling replies from the server and sends held back or deferred by the mailbox throttle. */
  throttled: number;
}

export function newDeliveryCounters(): DeliveryCounters {
  return { delivered: 0, duplicatesSkipped: 0, retried: 0, deadLettered: 0, throttled: 0 };
}
