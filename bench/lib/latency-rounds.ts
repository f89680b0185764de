/**
 * Latency of two ways of making the same call, measured in alternating rounds of one run (so a
 * noisy neighbour slows both alike), per request size: p50 and p99 of each, and their ratio.
 */
import { percentile } from "./xds-bench.js";

export interface Size {
  name: string;
}

export interface Path<S extends Size> {
  name: string;
  /** One call; throws when the answer is wrong. */
  call(size: S): Promise<void>;
}

export interface RoundsOptions<S extends Size> {
  label: string;
  sizes: readonly S[];
  /** The baseline first; the ratio is the second over the first. */
  paths: readonly [Path<S>, Path<S>];
  calls: number;
  rounds: number;
  concurrency: number;
}

/** Rows of [size, path, p50 ms, p99 ms, calls], with a ratio row per size. */
export async function latencyRounds<S extends Size>(opts: RoundsOptions<S>): Promise<(string | number)[][]> {
  const latencies = new Map<string, number[]>();
  const run = async (size: S, path: Path<S>) => {
    const key = `${size.name}|${path.name}`;
    const out = latencies.get(key) ?? [];
    latencies.set(key, out);
    let sent = 0;
    const worker = async () => {
      while (sent < opts.calls) {
        sent++;
        const start = performance.now();
        await path.call(size);
        out.push(performance.now() - start);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  };
  for (const size of opts.sizes) for (const path of opts.paths) await run(size, path); // warm-up
  latencies.clear();
  for (let r = 0; r < opts.rounds; r++) {
    process.stderr.write(`[${opts.label}] round ${r + 1}/${opts.rounds}\n`);
    for (const size of opts.sizes)
      for (const path of r % 2 === 0 ? opts.paths : [...opts.paths].reverse()) await run(size, path);
  }
  const rows: (string | number)[][] = [];
  for (const size of opts.sizes) {
    const [base, other] = opts.paths.map((p) => latencies.get(`${size.name}|${p.name}`) ?? []);
    opts.paths.forEach((path, i) => {
      const xs = i === 0 ? base! : other!;
      rows.push([
        size.name,
        path.name,
        percentile(xs, 50).toFixed(3),
        percentile(xs, 99).toFixed(3),
        xs.length,
      ]);
    });
    rows.push([
      size.name,
      `ratio ${opts.paths[1].name} / ${opts.paths[0].name}`,
      (percentile(other!, 50) / percentile(base!, 50)).toFixed(2),
      (percentile(other!, 99) / percentile(base!, 99)).toFixed(2),
      "",
    ]);
  }
  return rows;
}
