export { parseConfig, parseConfigValue } from "./parse.js";
export { ConfigAssembler, type ModelEntry } from "./incremental.js";
export { formatConfig } from "./format.js";
export { formatErrors, formatPath } from "./errors.js";
export type { ConfigError, PathSegments } from "./errors.js";
export { ok, fail } from "./result.js";
export type { Result } from "./result.js";
export type { RawConfig, RawFleet, RawModel, RawNode, RawPlacement, RawVersion } from "./raw.js";
export { parseDuration, formatDuration } from "./duration.js";
export { parseListenPort } from "./port.js";
export {
  defaultAuth,
  defaultExtAuthz,
  defaultFleetSettings,
  defaultJwt,
  defaultListener,
  defaultPool,
  defaultRateLimitService,
  defaultReplicas,
  defaultSettings,
} from "./defaults.js";
export { configSchema } from "./schema.js";
export { authModes, retryOnValues } from "./types.js";
export type {
  ApiKeysConfig,
  AuthConfig,
  AuthMode,
  CircuitBreakerSettings,
  ExtAuthzServiceConfig,
  FleetSettings,
  JwtConfig,
  RateLimitServiceConfig,
  ModelGrant,
  RateLimitConfig,
  TenantConfig,
  Config,
  HealthSettings,
  ListenerConfig,
  ModelConfig,
  ModelSettings,
  NodeConfig,
  OutlierDetectionSettings,
  PlacementConfig,
  RetryOn,
  RetrySettings,
  ShadowConfig,
  VersionConfig,
} from "./types.js";
