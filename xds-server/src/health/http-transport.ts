/**
 * The transport for nodes that speak only the REST/JSON form (`protocol: rest`): the same three
 * probes over HTTP/1.1, on a keep-alive agent of the node's own, kept between rounds.
 * - health check: REST has no grpc.health.v1; answered UNIMPLEMENTED without a request, which the
 *   prober counts as "no health service" (no failure) and judges the node by the other two;
 * - server ready: GET /v2/health/ready, 200 ready, any other answer not ready;
 * - model ready: GET /v2/models/<model>[/versions/<version>]/ready, 200 ready, 404 NOT_FOUND (the
 *   server does not have it), any other answer not ready.
 * A refused or reset connection is UNAVAILABLE, no answer within the timeout DEADLINE_EXCEEDED, as
 * the gRPC transport reports them.
 */
import { Agent, request } from "node:http";
import { Code } from "@inferencehub/contracts/errors";
import { restModelsPrefix, restPrefix } from "@inferencehub/contracts/protocol";
import type { NodeConnection, ProbeResult, ProbeTransport } from "./types.js";

/** GET `url`: the status, or why there is none. Never rejects. */
function get(agent: Agent, url: string, timeoutMs: number): Promise<ProbeResult<number>> {
  return new Promise((resolve) => {
    let timedOut = false;
    const req = request(url, { agent, method: "GET" }, (res) => {
      res.resume();
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ ok: true, value: res.statusCode ?? 0 });
      });
    });
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      resolve({
        ok: false,
        code: timedOut ? Code.DEADLINE_EXCEEDED : Code.UNAVAILABLE,
        message: err.message,
      });
    });
    req.end();
  });
}

const readyWhen200 = (result: ProbeResult<number>): ProbeResult<boolean> =>
  result.ok ? { ok: true, value: result.value === 200 } : result;

export function createHttpProbeTransport(): ProbeTransport {
  return {
    connect(target): NodeConnection {
      // Its own agent: the prober's connection state is the node's alone, as with gRPC.
      const agent = new Agent({ keepAlive: true, maxSockets: 4 });
      const base = `http://${target.address}`;
      return {
        healthCheck: () =>
          Promise.resolve({
            ok: false,
            code: Code.UNIMPLEMENTED,
            message: "REST nodes have no grpc.health.v1",
          }),
        serverReady: async (timeoutMs) =>
          readyWhen200(await get(agent, `${base}${restPrefix}/health/ready`, timeoutMs)),
        modelReady: async (model, version, timeoutMs) => {
          const path = `${restModelsPrefix}${encodeURIComponent(model)}${
            version === "" ? "" : `/versions/${encodeURIComponent(version)}`
          }/ready`;
          const result = await get(agent, `${base}${path}`, timeoutMs);
          if (result.ok && result.value === 404) {
            return { ok: false, code: Code.NOT_FOUND, message: `GET ${path}: 404` };
          }
          return readyWhen200(result);
        },
        close: () => agent.destroy(),
      };
    },
  };
}
