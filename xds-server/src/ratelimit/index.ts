export {
  fixedWindowFor,
  modelDescriptorKey,
  rateLimitDomain,
  rateLimitServiceConfig,
  tenantDescriptorKey,
  windowUnits,
} from "./service-config.js";
export type { FixedWindowLimit, WindowUnit } from "./service-config.js";
