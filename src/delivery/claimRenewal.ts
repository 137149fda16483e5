/**
 * Keeps a ledger claim alive while its send runs: every third of the lease the
 * claim is written again (If-Match on its ETag) with a new lease end. A live
 * send, however slow (waiting for a send slot, the mailbox rate limit, a slow
 * server), is then never taken over, while the claim of a process that died
 * runs out one lease after its last renewal.
 *
 * Renewals never overlap and `stop()` waits for the one under way, so the
 * final write (sent, released, dead-lettered) uses the newest ETag. A renewal
 * that fails for storage reasons is tried again at the next tick (the claim
 * holds until its lease end, and an If-Match renewal after that still wins if
 * nobody took it over). A renewal that finds the claim taken over (412) means
 * another attempt now owns the message: `lost` turns true, and the send must
 * not start if it has not yet (src/relay/handler.ts checks before handing the message
 * to SMTP); one already under way cannot be recalled and runs to its end.
 */
import type { DeliveryLedger, LedgerClaim } from './ledger';
import { LedgerConflictError } from './ledger';

export interface ClaimRenewal {
  /** True once a renewal found the claim taken over by another attempt. */
  readonly lost: boolean;
  /** Stops renewing; resolves once no renewal is under way. */
  stop(): Promise<void>;
}

export interface RenewalEvents {
  onLost(error: LedgerConflictError): void;
  onFailure(error: unknown): void;
}

export function renewWhileSending(ledger: DeliveryLedger, claim: LedgerClaim, events: RenewalEvents): ClaimRenewal {
  const intervalMs = Math.max(100, (ledger.leaseSeconds * 1000) / 3);
  let stopped = false;
  let lost = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = () => {
    running = ledger.renew(claim).then(
      () => undefined,
      (error: unknown) => {
        if (error instanceof LedgerConflictError) {
          lost = true;
          events.onLost(error);
        } else {
          events.onFailure(error);
        }
      },
    );
    void running.then(schedule);
  };
  const schedule = () => {
    if (stopped || lost) return;
    timer = setTimeout(tick, intervalMs);
    // An invocation in progress keeps the process busy anyway; the timer alone must not.
    timer.unref();
  };
  schedule();

  return {
    get lost() {
      return lost;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
