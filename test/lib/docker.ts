/**
 * Test helper: what the compose test needs of the machine's Docker. It never installs or starts
 * anything on the machine; `.ci/run` is where an engine is made to run (scripts/ci-docker.sh).
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { repoRoot } from "../../scripts/lib/paths.js";

const run = promisify(execFile);

/** Why the compose stack cannot run here, or undefined when an engine and Compose v2 answer. */
export async function dockerMissing(): Promise<string | undefined> {
  try {
    await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 15_000 });
  } catch (err) {
    return (
      `no Docker engine answers ('docker info': ${firstLine(err)}). To run the compose stack here: ` +
      "install Docker (Debian: apt-get install docker.io) and start it, as .ci/run does with scripts/ci-docker.sh"
    );
  }
  try {
    await run("docker", ["compose", "version"], { timeout: 15_000 });
  } catch (err) {
    return (
      `the Docker engine answers but 'docker compose' (the Compose v2 plugin) does not (${firstLine(err)}); ` +
      "install it (Docker's docker-compose-plugin package), or build it as scripts/ci-docker.sh does"
    );
  }
  return undefined;
}

/** Whether Docker Hub answers at all (any HTTP status): if not, the images come from build-images.sh. */
export async function registryAnswers(): Promise<boolean> {
  try {
    await fetch("https://registry-1.docker.io/v2/", { signal: AbortSignal.timeout(5_000) });
    return true;
  } catch {
    return false;
  }
}

/** Runs deploy/offline/build-images.sh, its progress lines passed on as they come. */
export function buildOfflineImages(log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["deploy/offline/build-images.sh"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        log(line);
        tail.push(line);
        if (tail.length > 30) tail.shift();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`deploy/offline/build-images.sh exited with ${code}:\n${tail.join("\n")}`)),
    );
  });
}

/** Containers, networks and volumes still labelled with a compose project's name. */
export async function composeLeftovers(project: string): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const list = async (args: string[], field: string) =>
    (await run("docker", [...args, "--filter", label, "--format", `{{.${field}}}`])).stdout
      .split("\n")
      .filter(Boolean);
  return [
    ...(await list(["ps", "-a"], "Names")).map((n) => `container ${n}`),
    ...(await list(["network", "ls"], "Name")).map((n) => `network ${n}`),
    ...(await list(["volume", "ls"], "Name")).map((n) => `volume ${n}`),
  ];
}

export async function docker(args: string[]): Promise<string> {
  return (await run("docker", args, { timeout: 60_000 })).stdout;
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim().split("\n")[0] ?? "";
}
