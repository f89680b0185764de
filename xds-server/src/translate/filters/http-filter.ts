import type { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { GatewayIR } from "../../ir/index.js";
import type { ClientGroup } from "../types.js";

/** One HTTP filter of the connection manager; filters/index.ts fixes their order. */
export interface HttpFilterSpec {
  /** Envoy's canonical filter name; unique in a chain. */
  readonly name: string;
  /** Whether the filter belongs in the chain for this IR and group of clients. */
  enabled(ir: GatewayIR, group: ClientGroup): boolean;
  build(ir: GatewayIR): HttpFilter;
}
