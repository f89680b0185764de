export { parseConfig, parseConfigValue } from "./parse.js";
export { ConfigAssembler, type ModelEntry } from "./incremental.js";
export { formatConfig } from "./format.js";
export { formatErrors, formatPath } from "./errors.js";
export type { ConfigError, PathSegments } from "./errors.js";
export { ok, fail } from "./result.js";
export type { Result } from "./result.js";
export type { RawConfig, RawModel, RawNode } from "./raw.js";
export { parseDuration, formatDuration } from "./duration.js";
export { parseListenPort } from "./port.js";
export {
  defaultAuth,
  defaultExtAuthz,
  defaultJwt,
  defaultListener,
  defaultPool,
  defaultRateLimitService,
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
  RetryOn,
  RetrySettings,
  ShadowConfig,
  VersionConfig,
} from "./types.js";
