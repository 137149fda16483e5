/**
 * At most N Graph requests at once per mailbox in this process (Graph answers a fifth
 * concurrent request with 429 MailboxConcurrency). One gate per mailbox and Graph URL, shared
 * by every sender of that mailbox, so two senders or several lanes cannot add up past it.
 */
interface Gate {
  running: number;
  waiting: Array<() => void>;
}

const gates = new Map<string, Gate>();

export async function withinMailboxLimit<T>(key: string, capacity: number, task: () => Promise<T>): Promise<T> {
  let gate = gates.get(key);
  if (!gate) {
    gate = { running: 0, waiting: [] };
    gates.set(key, gate);
  }
  if (gate.running >= capacity) await new Promise<void>((resolve) => gate.waiting.push(resolve));
  else gate.running++;
  try {
    return await task();
  } finally {
    // Hand the slot straight to the next waiter, or free it.
    const next = gate.waiting.shift();
    if (next) next();
    else gate.running--;
  }
}
