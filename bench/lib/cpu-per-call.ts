/**
 * CPU time per call of named processes over a measured stretch: read each process's user + system
 * time (/proc/<pid>/stat, all its threads) before and after, and divide the difference by the
 * calls made in between. Clock ticks are 10 ms on most kernels, so a stretch should cost each
 * process a few hundred ms of CPU for the figure to be within a few percent.
 */
import { processCpuMs } from "./xds-bench.js";

export type CpuSnapshot = Record<string, number>;

/** CPU ms used so far by each process, by name. */
export function cpuSnapshot(pids: Record<string, number>): CpuSnapshot {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)]));
}

/** CPU ms each process used between two snapshots. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  return Object.fromEntries(Object.entries(after).map(([name, ms]) => [name, ms - (before[name] ?? 0)]));
}

/** Adds the CPU ms of `more` into `into`, process by process. */
export function addCpu(into: CpuSnapshot, more: CpuSnapshot): CpuSnapshot {
  for (const [name, ms] of Object.entries(more)) into[name] = (into[name] ?? 0) + ms;
  return into;
}

/** CPU ms over a number of calls, as µs per call. */
export const usPerCall = (cpuMs: number, calls: number): number => (calls > 0 ? (cpuMs * 1000) / calls : NaN);
