/**
 * For the process helpers that are also commands (`tsx scripts/lib/redis-process.ts`): run the
 * command only when the file is the entry point, and keep what it started until Ctrl-C.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Runs `main` when `moduleUrl` (the caller's import.meta.url) is the entry point; exits 1 with its error. */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (!process.argv[1] || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}

/** On Ctrl-C or SIGTERM: stop, then exit 0. */
export function stopOnSignal(stop: () => Promise<void>): void {
  const end = () => void stop().then(() => process.exit(0));
  process.once("SIGINT", end);
  process.once("SIGTERM", end);
}
