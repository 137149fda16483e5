/**
 * Conditions of the sending mailbox that only the send path sees (a full
 * mailbox, the daily quota): the relay records them as they happen, in this
 * process's memory, and the monitor's next tick raises an alert for each one
 * seen within the last window, once while it lasts (its state keeps the raised
 * keys, so an alert is raised again only after the condition cleared).
 */
import type { RelayError, ReasonCode } from '../core/errors';
import type { Finding } from './assessSecret';

/** How long a condition counts as current after it was last seen (the monitor runs every 15 minutes by default). */
export const MAILBOX_CONDITION_WINDOW_MS = 60 * 60_000;

export interface MailboxCondition {
  reason: ReasonCode;
  firstSeen: number;
  lastSeen: number;
  /** Sends refused for it since first seen. */
  count: number;
  providerReply?: string;
  remedy?: string;
}

const WATCHED = new Set<ReasonCode>(['mailbox_full', 'quota_exceeded']);

export class MailboxConditions {
  private readonly seen = new Map<ReasonCode, MailboxCondition>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Called with every failed send; keeps the ones the monitor reports. */
  record(failure: Pick<RelayError, 'reason' | 'providerReply' | 'remedy'>): void {
    if (!WATCHED.has(failure.reason)) return;
    const now = this.now();
    const known = this.seen.get(failure.reason);
    const fresh = known && now - known.lastSeen < MAILBOX_CONDITION_WINDOW_MS;
    this.seen.set(failure.reason, {
      reason: failure.reason,
      firstSeen: fresh ? known.firstSeen : now,
      lastSeen: now,
      count: fresh ? known.count + 1 : 1,
      providerReply: failure.providerReply,
      remedy: failure.remedy,
    });
  }

  /** Conditions seen within the window before `now`. */
  current(now: number = this.now()): MailboxCondition[] {
    return [...this.seen.values()].filter((condition) => now - condition.lastSeen < MAILBOX_CONDITION_WINDOW_MS);
  }
}

/** The monitor's findings for the current conditions (alert key family `mailbox`). */
export function mailboxFindings(conditions: MailboxCondition[], mailbox: string | undefined): Finding[] {
  return conditions.map((condition) => {
    const details = {
      mailbox,
      reason: condition.reason,
      refusedSends: condition.count,
      firstSeen: new Date(condition.firstSeen).toISOString(),
      lastSeen: new Date(condition.lastSeen).toISOString(),
      providerReply: condition.providerReply,
    };
    if (condition.reason === 'mailbox_full') {
      return {
        key: 'mailbox:mailbox_full',
        alert: {
          name: 'mailbox_full',
          severity: 'critical',
          summary: `The sending mailbox ${mailbox ?? ''} is full (554 5.2.2): no message can be sent until space is freed; messages are retried meanwhile.`,
          remedy: condition.remedy,
          details,
        },
      };
    }
    return {
      key: `mailbox:${condition.reason}`,
      alert: {
        name: 'sending_quota_exceeded',
        severity: 'error',
        summary: `The sending mailbox ${mailbox ?? ''} reached its daily sending limit and is blocked for up to 24 hours; messages wait in the queue.`,
        remedy: condition.remedy,
        details,
      },
    };
  });
}
