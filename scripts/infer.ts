/**
 * Calls ModelInfer on a gateway or node with one FP32 input and prints the outputs.
 *   tsx scripts/infer.ts --target 127.0.0.1:8080 --model mlp --input '[[1,2,3,4]]' [--version 1] [--raw] [--token KEY]
 * The API key also comes from INFERENCEHUB_API_KEY.
 */
import { parseArgs } from "node:util";
import { type ServiceError, status } from "@grpc/grpc-js";
import { createInferClient } from "./lib/infer-client.js";
import { fp32Output, fp32Request } from "./lib/requests.js";

const { values } = parseArgs({
  options: {
    target: { type: "string", default: "127.0.0.1:8080" },
    model: { type: "string", default: "mlp" },
    version: { type: "string", default: "" },
    input: { type: "string", default: "[[1,2,3,4]]" },
    raw: { type: "boolean", default: false },
    token: { type: "string", default: process.env.INFERENCEHUB_API_KEY },
  },
});

const rows = JSON.parse(values.input ?? "[]") as number[][];
const client = createInferClient(values.target ?? "127.0.0.1:8080");
const model = values.model ?? "mlp";
try {
  const { response, headers } = await client.infer(
    fp32Request(model, rows, { raw: values.raw ?? false, version: values.version ?? "" }),
    {
      metadata: {
        "inferencehub-model": model,
        ...(values.version ? { "inferencehub-model-version": values.version } : {}),
        ...(values.token ? { authorization: `Bearer ${values.token}` } : {}),
      },
      deadlineMs: 10_000,
    },
  );
  console.log(
    JSON.stringify({
      model: response.modelName,
      version: response.modelVersion,
      servedBy: headers["x-inferencehub-node"],
      outputs: Object.fromEntries(response.outputs.map((o) => [o.name, fp32Output(response, o.name)])),
    }),
  );
} catch (err) {
  const e = err as ServiceError;
  console.error(`ModelInfer failed: ${status[e.code] ?? e.code}: ${e.details}`);
  process.exitCode = 1;
} finally {
  client.close();
}
