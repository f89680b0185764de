/**
 * Progressive rollouts driven by the control plane (README.md here): decide.ts (the pure
 * decision), driver.ts (timers, edits, state), store.ts (where the state lives), envoy-sampler.ts
 * (the gate metrics from every Envoy connected), prometheus-sampler.ts (or from Prometheus), health.ts (the new version's health).
 */
export { decide, isLive, stepWeights, stepsProblem, type Decision, type DecideInput } from "./decide.js";
export { RolloutDriver, type RolloutDriverOptions, type VersionReady } from "./driver.js";
export { envoyAdminSampler, stepDelta, type ClusterSampler, type EnvoySamples } from "./envoy-sampler.js";
export { PROMETHEUS_METRICS, prometheusSampler } from "./prometheus-sampler.js";
export { readyWhenHealthy, versionHealth, type HealthByNode } from "./health.js";
export {
  EtcdRolloutStore,
  FileRolloutStore,
  MemoryRolloutStore,
  rolloutsFileOf,
  type RolloutStore,
} from "./store.js";
