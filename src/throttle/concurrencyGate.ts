/**
 * At most `capacity` tasks run at once; the others wait their turn in order.
 * The relay runs "fetch the attachments, then send" inside the gate, sized to
 * the SMTP pool: a message waiting for a connection then holds no attachment
 * bytes, which keeps memory flat however large the batch.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly capacity: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.capacity) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
