/**
 * The gate metrics from every Envoy connected to this control plane (the ADS clients of the
 * envoy group): each declares its admin port in its node metadata, and its stats are read at the
 * ADS stream's peer IP, never at an address a client names, so a client cannot make the control
 * plane fetch an arbitrary URL. An Envoy that declares no port, or whose read fails, is named in
 * `missing`: the step holds.
 */
import { fetchClusterSample, type ClusterSample } from "@inferencehub/contracts/envoy-stats";

/** What the sampler needs of an xDS client (the registry's ClientStatus). */
export interface SampledClient {
  stream: number;
  nodeId: string;
  group: string;
  peerIp: string;
  adminPort?: number | undefined;
}

export interface EnvoySamples {
  /** Per Envoy stream ("<node id>#<stream>"): its counters now. */
  byEnvoy: Map<string, ClusterSample>;
  /** Why an Envoy has no sample; empty when every connected Envoy answered. */
  missing: string[];
}

export type ClusterSampler = (cluster: string) => Promise<EnvoySamples>;

const urlHost = (ip: string) => (ip.includes(":") ? `[${ip}]` : ip);

export function envoyAdminSampler(
  clients: () => readonly SampledClient[],
  fetchSample: (adminUrl: string, cluster: string) => Promise<ClusterSample> = fetchClusterSample,
): ClusterSampler {
  return async (cluster) => {
    const envoys = clients().filter((c) => c.group === "envoy");
    const byEnvoy = new Map<string, ClusterSample>();
    const missing: string[] = [];
    if (envoys.length === 0) missing.push("no Envoy is connected to this control plane");
    await Promise.all(
      envoys.map(async (c) => {
        if (c.adminPort === undefined) {
          missing.push(`Envoy ${c.nodeId} declares no admin port (node metadata inferencehub_admin_port)`);
          return;
        }
        if (c.peerIp === "") {
          missing.push(`Envoy ${c.nodeId}: its stream's peer address is unknown`);
          return;
        }
        const url = `http://${urlHost(c.peerIp)}:${c.adminPort}`;
        try {
          byEnvoy.set(`${c.nodeId}#${c.stream}`, await fetchSample(url, cluster));
        } catch (err) {
          missing.push(`Envoy ${c.nodeId}: reading ${url}/stats failed (${(err as Error).message})`);
        }
      }),
    );
    missing.sort();
    return { byEnvoy, missing };
  };
}

/**
 * The step's part of `now`: counters minus the baseline taken when the step began (an Envoy
 * that connected since counts from zero; a counter that went down, an Envoy restarted, too). The
 * p99 is Envoy's cumulative one, the highest over the Envoys.
 */
export function stepDelta(
  now: EnvoySamples,
  baseline: ReadonlyMap<string, ClusterSample>,
): { calls: number; failures: number; p99Ms: number | undefined; missing: string[] } {
  let calls = 0;
  let failures = 0;
  let p99: number | undefined;
  for (const [key, s] of now.byEnvoy) {
    const b = baseline.get(key);
    const reset = !b || s.total < b.total || s.failures < b.failures;
    calls += s.total - (reset ? 0 : b.total);
    failures += s.failures - (reset ? 0 : b.failures);
    if (s.p99Ms !== undefined) p99 = Math.max(p99 ?? 0, s.p99Ms);
  }
  return { calls, failures, p99Ms: p99, missing: now.missing };
}
