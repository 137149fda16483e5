/**
 * A MailSender whose connections and sends count against the mailbox's limits
 * for the whole app (RELAY_LIMITS_SCOPE=app): each connection is a lane, one
 * nodemailer connection that exists only while its process holds a connection
 * slot (connectionSlots.ts), and each send is first reserved in the shared
 * window (sendingWindow.ts).
 *
 * Exchange counts open connections, idle or not, so an idle lane keeps its
 * slot (the next message then skips TLS and AUTH) but only for LANE_IDLE_MS:
 * then it is closed and its slot freed for other instances. A lane also retires
 * after LANE_MAX_LIFE_MS, so a busy instance cannot keep the slots from the
 * others for good. A slot is released only a moment after its connection was
 * closed, so the server has seen the close before another instance connects.
 * A lane whose lease could not be renewed is closed at once (after its message).
 */
import type { SendMailOptions } from 'nodemailer';
import type { ContainerClient } from '@azure/storage-blob';
import { silentLogger, type Logger } from '../core/log';
import type { RelayError } from '../core/errors';
import type { SmtpSettings } from '../settings';
import type { MailSender, MailSenderStats, SendResult } from '../smtp';
import { ConnectionSlots, LEASE_SECONDS, type SlotLease } from './connectionSlots';
import { mailboxKey } from './mailboxKey';
import { newCoordinationStats, SendingWindow, windowFull, type CoordinationStats } from './sendingWindow';

const LANE_IDLE_MS = 5_000;
const LANE_MAX_LIFE_MS = 60_000;
/** Between closing a connection and freeing its slot: the server sees the close first. */
const CLOSE_GRACE_MS = 500;
/** How often a process waiting for a slot held elsewhere tries again (plus up to as much at random): each try costs a request per slot. */
const SLOT_POLL_MS = 500;

export interface CoordinatedSenderOptions {
  /** A sender with one connection (SMTP_POOL_SIZE 1), for one lane. */
  openLane: () => MailSender;
  slots: ConnectionSlots;
  window: SendingWindow;
  /** Longest a send waits for a slot and the window before it goes back to the queue. */
  maxWaitMs: number;
  /**
   * Run before a send is counted in the window (fetching the token): the time from the count to the
   * server's MAIL FROM is then only the connection's, well inside the window's margin.
   */
  prepare?: () => Promise<unknown>;
  logger?: Logger;
}

interface Lane {
  sender: MailSender;
  lease: SlotLease;
  openedAt: number;
  busy: boolean;
  /** The lease could not be renewed: close after the current message. */
  lost: boolean;
  idleTimer?: NodeJS.Timeout;
  renewTimer: NodeJS.Timeout;
}

interface Waiter {
  take: (lane: Lane) => void;
  fail: (error: RelayError | Error) => void;
  timer: NodeJS.Timeout;
}

const ZERO_STATS: MailSenderStats = { messagesSent: 0, connectionsOpened: 0, authentications: 0, tokenRetries: 0 };

export function coordinatedSender(options: CoordinatedSenderOptions): MailSender {
  const logger = options.logger ?? silentLogger;
  const lanes: Lane[] = [];
  const waiters: Waiter[] = [];
  /** Stats of lanes already closed. */
  const retired: MailSenderStats = { ...ZERO_STATS };
  let acquiring = false;
  let pollTimer: NodeJS.Timeout | undefined;
  let closed = false;

  function take(lane: Lane): Lane {
    clearTimeout(lane.idleTimer);
    lane.busy = true;
    return lane;
  }

  /** Hands idle lanes to waiters, and leases another slot while waiters remain and the process may open more. */
  function pump(): void {
    while (waiters.length > 0) {
      const idle = lanes.find((lane) => !lane.busy && !lane.lost);
      if (!idle) break;
      const waiter = waiters.shift()!;
      clearTimeout(waiter.timer);
      waiter.take(take(idle));
    }
    if (waiters.length === 0 || acquiring || closed || lanes.length >= options.slots.count || pollTimer) return;
    acquiring = true;
    options.slots.tryAcquire().then(
      (lease) => {
        acquiring = false;
        if (lease && closed) return void lease.release();
        if (lease) lanes.push(openLane(lease));
        else
          pollTimer = setTimeout(
            () => {
              pollTimer = undefined;
              pump();
            },
            SLOT_POLL_MS + Math.floor(Math.random() * SLOT_POLL_MS),
          ); // not unref'd, as the waiters' timers: a send is waiting
        pump();
      },
      (error: Error) => {
        acquiring = false;
        // Storage failed: every waiter goes back to the queue rather than past the limit.
        for (const waiter of waiters.splice(0)) {
          clearTimeout(waiter.timer);
          waiter.fail(error);
        }
      },
    );
  }

  function openLane(lease: SlotLease): Lane {
    const lane: Lane = {
      sender: options.openLane(),
      lease,
      openedAt: Date.now(),
      busy: false,
      lost: false,
      renewTimer: setInterval(
        () => {
          lease.renew().catch((error: Error) => {
            logger.warn("a connection slot's lease could not be renewed; its connection is closed", {
              event: 'smtp.slot_lost',
              slot: lease.index,
              error: error.message,
            });
            lane.lost = true;
            if (!lane.busy) closeLane(lane);
          });
        },
        (LEASE_SECONDS * 1000) / 3,
      ).unref(),
    };
    return lane;
  }

  function closeLane(lane: Lane): void {
    const index = lanes.indexOf(lane);
    if (index < 0) return;
    lanes.splice(index, 1);
    clearTimeout(lane.idleTimer);
    clearInterval(lane.renewTimer);
    for (const key of Object.keys(retired) as Array<keyof MailSenderStats>) retired[key] += lane.sender.stats[key];
    lane.sender.close();
    setTimeout(() => {
      void lane.lease.release().then(() => pump());
    }, CLOSE_GRACE_MS).unref();
  }

  function release(lane: Lane): void {
    lane.busy = false;
    if (lane.lost || closed || Date.now() - lane.openedAt > LANE_MAX_LIFE_MS) return closeLane(lane);
    if (waiters.length > 0) return pump();
    lane.idleTimer = setTimeout(() => closeLane(lane), LANE_IDLE_MS).unref();
  }

  function acquire(): Promise<Lane> {
    if (closed) return Promise.reject(new Error('the mail sender was closed'));
    return new Promise<Lane>((resolve, reject) => {
      const waiter: Waiter = {
        take: resolve,
        fail: reject,
        timer: setTimeout(() => {
          const index = waiters.indexOf(waiter);
          if (index < 0) return;
          waiters.splice(index, 1);
          options.window.stats.deferred++;
          reject(windowFull(SLOT_POLL_MS * 4));
        }, options.maxWaitMs),
      };
      if (lanes.some((lane) => !lane.busy && !lane.lost) && waiters.length === 0) {
        clearTimeout(waiter.timer);
        const idle = lanes.find((lane) => !lane.busy && !lane.lost)!;
        return resolve(take(idle));
      }
      options.window.stats.waited++;
      waiters.push(waiter);
      pump();
    });
  }

  return {
    get stats(): MailSenderStats {
      const total = { ...retired };
      for (const lane of lanes) for (const key of Object.keys(total) as Array<keyof MailSenderStats>) total[key] += lane.sender.stats[key];
      return total;
    },
    async send(mail: SendMailOptions): Promise<SendResult> {
      const started = Date.now();
      const lane = await acquire();
      try {
        await options.prepare?.();
        await options.window.reserve(recipientCount(mail), started + options.maxWaitMs);
        return await lane.sender.send(mail);
      } finally {
        release(lane);
      }
    },
    async verify(): Promise<void> {
      // The health check and the doctor: one short connection of their own, outside the slots, so they work
      // without storage (the doctor on a workstation) and say what is wrong with storage apart. While the relay
      // holds every slot, the server may refuse this one connection (421 4.3.2): the check then says so.
      const probe = options.openLane();
      try {
        await probe.verify();
      } finally {
        for (const key of Object.keys(retired) as Array<keyof MailSenderStats>) retired[key] += probe.stats[key];
        probe.close();
      }
    },
    close(): void {
      closed = true;
      clearTimeout(pollTimer);
      for (const waiter of waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.fail(new Error('the mail sender was closed'));
      }
      for (const lane of [...lanes]) if (!lane.busy) closeLane(lane);
    },
  };
}

/** Recipients the server will count: the envelope's (compose.ts sets it), else to + cc + bcc. */
export function recipientCount(mail: SendMailOptions): number {
  // A list, an address object, or a comma-separated string (a comma in a display name over-counts: on the safe side).
  const listed = (value: unknown): number => {
    if (Array.isArray(value)) return value.length;
    if (typeof value === 'string') return value.split(',').filter((part) => part.trim()).length;
    return value ? 1 : 0;
  };
  if (mail.envelope && 'to' in mail.envelope && mail.envelope.to) return listed(mail.envelope.to);
  return listed(mail.to) + listed(mail.cc) + listed(mail.bcc);
}

export interface AppLimitsOptions {
  /** The coordination container (RELAY_COORDINATION_CONTAINER). */
  container: ContainerClient;
  smtp: Pick<
    SmtpSettings,
    'host' | 'poolSize' | 'rateLimitPerMinute' | 'rateLimitWindowMs' | 'dailyRecipientLimit' | 'dailyRecipientWindowMs' | 'rateLimitMaxWaitMs'
  >;
  /** The SMTP user: with the host, it names the mailbox whose limits these are. */
  user: string;
  openLane: () => MailSender;
  prepare?: () => Promise<unknown>;
  logger?: Logger;
  /**
   * The connection slots' own folder when they are not the SMTP connections' (the graph transport's
   * 4 concurrent requests); the window (rate, daily recipients) is always the mailbox's.
   */
  slotsKey?: string;
}

/** The mailbox's limits for the whole app (RELAY_LIMITS_SCOPE=app): its slots, its window, and the sender over both. */
export function appLimitedSender(options: AppLimitsOptions): MailSender & { coordination: CoordinationStats } {
  const { smtp } = options;
  const stats = newCoordinationStats();
  const prefix = mailboxKey(smtp.host, options.user);
  const window = new SendingWindow(
    options.container,
    prefix,
    {
      messagesPerWindow: smtp.rateLimitPerMinute,
      windowMs: smtp.rateLimitWindowMs,
      recipientsPerDay: smtp.dailyRecipientLimit,
      dayMs: smtp.dailyRecipientWindowMs,
    },
    stats,
  );
  const sender = coordinatedSender({
    openLane: options.openLane,
    slots: new ConnectionSlots(options.container, options.slotsKey ?? prefix, smtp.poolSize, stats),
    window,
    maxWaitMs: smtp.rateLimitMaxWaitMs,
    prepare: options.prepare,
    logger: options.logger,
  });
  return Object.assign(sender, { coordination: stats });
}
