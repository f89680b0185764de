/**
 * The README's main command: runs InferenceHub locally as processes, in the foreground, until
 * Ctrl-C. Today: a real Envoy (data 8080, admin 9901) in front of two reference nodes (9001,
 * 9002) serving every test model. Ports can be moved with the environment variables below.
 */
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "./lib/envoy-process.js";
import { startNode, type NodeProcess } from "./lib/node-process.js";

const envPort = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    console.error(`${name} must be a port number, got '${raw}'`);
    process.exit(2);
  }
  return n;
};

const ports = {
  envoy: envPort("ENVOY_PORT", 8080),
  admin: envPort("ENVOY_ADMIN_PORT", 9901),
  node1: envPort("NODE1_PORT", 9001),
  node2: envPort("NODE2_PORT", 9002),
};

const step = (msg: string) => console.log(`\x1b[1m[inferencehub]\x1b[0m ${msg}`);
const nodes: NodeProcess[] = [];
let envoy: EnvoyProcess | undefined;

async function stopAll(): Promise<void> {
  await envoy?.stop();
  await Promise.all(nodes.map((n) => n.stop()));
}

async function main(): Promise<void> {
  step(`starting inference nodes on ${ports.node1} and ${ports.node2}`);
  nodes.push(
    ...(await Promise.all([
      startNode({ name: "node-1", port: ports.node1 }),
      startNode({ name: "node-2", port: ports.node2 }),
    ])),
  );
  step(`starting Envoy on ${ports.envoy} (admin 127.0.0.1:${ports.admin})`);
  envoy = await startEnvoy({
    name: "gateway",
    adminPort: ports.admin,
    bootstrap: renderBootstrap("static-two-nodes.template.yaml", {
      ADMIN_PORT: ports.admin,
      LISTEN_PORT: ports.envoy,
      NODE1_PORT: ports.node1,
      NODE2_PORT: ports.node2,
    }),
  });
  const target = `127.0.0.1:${ports.envoy}`;
  console.log(`
  InferenceHub is up: Envoy on ${target} in front of node-1 (:${ports.node1}) and node-2 (:${ports.node2}).
  Models: mlp (v1), scale (v1, v2, v3), mixed (v1).

  Call a model:
    npx tsx scripts/infer.ts --target ${target} --model mlp --input '[[1,2,3,4]]'
    grpcurl -plaintext -import-path proto -proto inference/grpc_service.proto \\
      -d '{"model_name":"scale","model_version":"2","inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"contents":{"fp32_contents":[1,2,3,4]}}]}' \\
      ${target} inference.GRPCInferenceService/ModelInfer
  Envoy admin: http://127.0.0.1:${ports.admin}/stats   Ctrl-C stops everything.
`);
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    step("stopping");
    stopAll().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch(async (err: unknown) => {
  console.error(`[inferencehub] failed to start: ${err instanceof Error ? err.message : String(err)}`);
  console.error(
    "  Is something else using the ports? Set ENVOY_PORT, ENVOY_ADMIN_PORT, NODE1_PORT or NODE2_PORT.",
  );
  await stopAll();
  process.exit(1);
});
