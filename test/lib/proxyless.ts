/**
 * Test helper: a proxyless grpc-js-xds client of the control plane at adsPort, named nodeId.
 * grpc-js-xds reads its bootstrap once per process, when the first xds: channel starts, so one
 * test file (one process) holds one control plane's clients.
 */
import * as xds from "@grpc/grpc-js-xds";
import { createInferClient, type InferClient } from "../../scripts/lib/infer-client.js";

export function proxylessClient(adsPort: number, nodeId: string, target: string): InferClient {
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${adsPort}`,
        channel_creds: [{ type: "insecure" }],
        server_features: ["xds_v3"],
      },
    ],
    node: { id: nodeId, cluster: "test", locality: {} },
  });
  xds.register();
  return createInferClient(target);
}
