export { createAdsService, type AdsServiceOptions } from "./ads-service.js";
export {
  ADMIN_PORT_METADATA_KEY,
  createClientRegistry,
  peerIpOf,
  type ClientRecord,
  type ClientRegistry,
  type ClientStatus,
  type NackRecord,
} from "./client-registry.js";
export { createXdsMetrics, type XdsMetrics } from "./metrics.js";
export { StreamState, type Transport } from "./stream-state.js";
