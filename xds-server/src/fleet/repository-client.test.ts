// issue #18: the repository client against an in-process grpc-js server that answers as servers
// do at their edges (MLServer's "State.READY", a hung load, NOT_FOUND for a version), over a real
// socket. test/fleet-repository-client.test.ts runs it against real nodes and MLServer.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { GRPCInferenceServiceService } from "../../../gen/inference/inference/grpc_service.js";
import { freeSlots, parseCapacity } from "./capacity.js";
import { RepositoryError } from "./repository-error.js";
import {
  createRepositoryClient,
  normalizeState,
  versionsParameter,
  type RepositoryNode,
} from "./repository-client.js";

test("states: Triton's words pass, MLServer's enum printing is read, anything else is UNKNOWN and kept", () => {
  assert.deepEqual(normalizeState("READY"), { state: "READY" });
  assert.deepEqual(normalizeState("State.UNAVAILABLE"), { state: "UNAVAILABLE" });
  assert.deepEqual(normalizeState("loading"), { state: "LOADING" });
  assert.deepEqual(normalizeState("WARMING"), { state: "UNKNOWN", rawState: "WARMING" });
  assert.deepEqual(normalizeState(""), { state: "UNKNOWN", rawState: "" });
});

test("versions go as Triton's config override, numeric ones as numbers", () => {
  const p = versionsParameter(["2", "10", "v-a"]);
  assert.deepEqual(JSON.parse(p.config.parameterChoice.stringParam), {
    version_policy: { specific: { versions: [2, 10, "v-a"] } },
  });
});

test("capacity headers: parsed when present, undefined when absent or not a number", () => {
  const md = new Metadata();
  assert.equal(parseCapacity(md), undefined);
  md.set("x-inferencehub-capacity-models", "3");
  assert.deepEqual(parseCapacity(md), { models: 3, maxModels: undefined, memoryBytes: undefined });
  assert.equal(freeSlots(parseCapacity(md)!), Infinity);
  md.set("x-inferencehub-capacity-max-models", "4");
  md.set("x-inferencehub-capacity-memory-bytes", "-1");
  assert.deepEqual(parseCapacity(md), { models: 3, maxModels: 4, memoryBytes: undefined });
  assert.equal(freeSlots(parseCapacity(md)!), 1);
  md.set("x-inferencehub-capacity-models", "many");
  assert.equal(parseCapacity(md), undefined);
});

describe("against a server over a socket", () => {
  const server = new Server();
  let node: RepositoryNode;
  const seen: { token?: string; parameters?: unknown } = {};
  const client = createRepositoryClient({ timeouts: { load: 300 } });
  type Unary = (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void;
  const unimplemented: Unary = (_call, cb) => cb({ code: status.UNIMPLEMENTED, details: "not here" });

  before(async () => {
    const handlers: Record<string, Unary> = {
      repositoryIndex: (call, cb) => {
        seen.token = call.metadata.get("x-inferencehub-repository-token")[0] as string;
        call.sendMetadata(new Metadata());
        cb(null, { models: [{ name: "scale", version: "2", state: "State.READY", reason: "" }] });
      },
      // Never answers: the deadline must end it.
      repositoryModelLoad: (call) =>
        void (seen.parameters = (call.request as { parameters: unknown }).parameters),
      repositoryModelUnload: (_call, cb) =>
        cb({ code: status.FAILED_PRECONDITION, details: "Model scale not found" }),
      modelReady: (call, cb) => {
        const { version } = call.request as { version: string };
        if (version === "9") cb({ code: status.NOT_FOUND, details: "Model scale with version 9 not found" });
        else if (version === "8")
          cb({
            code: status.UNKNOWN,
            details:
              "Unexpected <class 'mlserver.errors.ModelNotFound'>: Model scale with version 8 not found",
          });
        else if (version === "boom") cb({ code: status.INTERNAL, details: "boom" });
        else cb(null, { ready: true });
      },
    };
    const impl = Object.fromEntries(
      Object.keys(GRPCInferenceServiceService).map((k) => [k, handlers[k] ?? unimplemented]),
    );
    server.addService(GRPCInferenceServiceService, impl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    node = { name: "stub", address: `127.0.0.1:${port}`, token: "t0ken" };
  });
  after(() => {
    client.close();
    server.forceShutdown();
  });

  test("index: sends the token, normalizes the state, no capacity from a server that sends none", async () => {
    const index = await client.index(node);
    assert.equal(seen.token, "t0ken");
    assert.deepEqual(index, {
      versions: [{ model: "scale", version: "2", state: "READY", reason: "" }],
      capacity: undefined,
    });
  });

  test("a load past its deadline is DEADLINE_EXCEEDED, saying the node may still finish it", async () => {
    await assert.rejects(client.load(node, "scale", "2"), (err) => {
      assert.ok(err instanceof RepositoryError);
      assert.equal(err.code, status.DEADLINE_EXCEEDED);
      assert.match(
        err.message,
        /^RepositoryModelLoad scale \(versions 2\) on node stub \(127\.0\.0\.1:\d+\): DEADLINE_EXCEEDED: .*within 300 ms; the node may still finish it/,
      );
      return true;
    });
    assert.deepEqual(seen.parameters, versionsParameter(["2"]));
  });

  test("the server's code and message are kept", async () => {
    await assert.rejects(client.unload(node, "scale"), (err) => {
      assert.ok(err instanceof RepositoryError);
      assert.equal(err.code, status.FAILED_PRECONDITION);
      assert.equal(err.details, "Model scale not found");
      assert.match(
        err.message,
        /RepositoryModelUnload scale on node stub .*: FAILED_PRECONDITION: Model scale not found$/,
      );
      return true;
    });
  });

  test("modelReady: NOT_FOUND (and MLServer's UNKNOWN ModelNotFound) is false, other failures throw", async () => {
    assert.equal(await client.modelReady(node, "scale", "2"), true);
    assert.equal(await client.modelReady(node, "scale", "9"), false);
    assert.equal(await client.modelReady(node, "scale", "8"), false, "MLServer 1.7.1's answer");
    await assert.rejects(client.modelReady(node, "scale", "boom"), { code: status.INTERNAL });
  });

  test("a call the server lacks is UNIMPLEMENTED, saying which extension", async () => {
    const other = createRepositoryClient();
    const bare = new Server();
    bare.addService(
      GRPCInferenceServiceService,
      Object.fromEntries(Object.keys(GRPCInferenceServiceService).map((k) => [k, unimplemented])),
    );
    const port = await new Promise<number>((resolve, reject) =>
      bare.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    try {
      await assert.rejects(other.index({ name: "bare", address: `127.0.0.1:${port}` }), (err) => {
        assert.ok(err instanceof RepositoryError);
        assert.equal(err.code, status.UNIMPLEMENTED);
        assert.match(err.message, /repository extension/);
        return true;
      });
    } finally {
      other.close();
      bare.forceShutdown();
    }
  });

  test("a node that is not there is UNAVAILABLE within the deadline", async () => {
    // Bound, then closed: nothing listens on it now.
    const gone = new Server();
    const port = await new Promise<number>((resolve, reject) =>
      gone.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    gone.forceShutdown();
    await assert.rejects(client.index({ name: "gone", address: `127.0.0.1:${port}` }), (err) => {
      assert.ok(err instanceof RepositoryError);
      assert.equal(err.code, status.UNAVAILABLE);
      assert.match(err.message, /cannot be reached/);
      return true;
    });
  });
});
