/**
 * CPU time and peak resident memory of this process over a stretch of work,
 * for the benchmark (its own process and the relay's worker measure alike). process.memoryUsage.rss()
 * reads only the resident size: memoryUsage() walks the heap spaces too, 1–5 % of the worker's CPU.
 */

export interface ProcessUsage {
  cpuMs: number;
  peakRssMb: number;
  /** Resident memory when measuring started (after a GC when --expose-gc is on), to read the peak against. */
  idleRssMb: number;
}

/** Starts measuring (memory sampled every 20 ms); the returned function stops and reports. */
export function startMeasuring(): () => ProcessUsage {
  (globalThis as { gc?: () => void }).gc?.();
  const idle = process.memoryUsage.rss();
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const cpu = process.cpuUsage();
  return () => {
    clearInterval(sampler);
    const used = process.cpuUsage(cpu);
    peak = Math.max(peak, process.memoryUsage.rss());
    return { cpuMs: (used.user + used.system) / 1000, peakRssMb: peak / 2 ** 20, idleRssMb: idle / 2 ** 20 };
  };
}
