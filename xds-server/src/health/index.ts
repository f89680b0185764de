export { createHealthProber, defaultCoalesceWindowMs } from "./prober.js";
export type { HealthProber, HealthProberOptions } from "./prober.js";
export { createHealthTable } from "./health-table.js";
export type { HealthTableOptions, MutableHealthTable, RoundVerdicts } from "./health-table.js";
export { createCoalescer } from "./coalescer.js";
export type { Coalescer, CoalescerOptions } from "./coalescer.js";
export { initialEntryState, nextEntryState } from "./entry-state.js";
export type { EntryState, EntryVerdict, Thresholds } from "./entry-state.js";
export { interpretRound } from "./round.js";
export type { RoundAnswers, RoundVerdict } from "./round.js";
export { modelKey, probeTargets } from "./targets.js";
export type { ModelVersionTarget, NodeTarget } from "./targets.js";
export { createGrpcProbeTransport } from "./grpc-transport.js";
export { createHttpProbeTransport } from "./http-transport.js";
export type { GrpcProbeTransportOptions } from "./grpc-transport.js";
export { createHealthMetrics, healthStatuses } from "./metrics.js";
export type { HealthMetrics } from "./metrics.js";
export type {
  ConnectTarget,
  HealthChange,
  HealthChangeEvent,
  HealthListener,
  HealthSnapshot,
  HealthTable,
  ModelHealthSnapshot,
  NodeConnection,
  NodeHealthSnapshot,
  ProbeKind,
  ProbeResult,
  ProbeTransport,
  ServingStatus,
} from "./types.js";
