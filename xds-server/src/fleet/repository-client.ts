/**
 * The control plane's side of the Triton repository extension: RepositoryIndex,
 * RepositoryModelLoad and RepositoryModelUnload on `inference.GRPCInferenceService`, and
 * ModelReady, against any server that speaks them (the reference node, Triton, MLServer). It is
 * what a reconciler calls to make a node hold the versions it should; it decides nothing itself.
 *
 * Every call has a deadline and fails with a RepositoryError that keeps the gRPC code and names
 * the node, the call and what the server said. Servers differ (see ./README.md): states are
 * normalized here, versions are not, since only the caller knows what a server calls a version.
 */
import {
  Channel,
  Metadata,
  credentials,
  status as grpcStatus,
  type ClientUnaryCall,
  type ServiceError,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { codeName } from "@inferencehub/contracts/errors";
import { repositoryTokenHeader } from "@inferencehub/contracts/headers";
import {
  GRPCInferenceServiceClient,
  type ModelReadyResponse,
  type RepositoryIndexResponse,
} from "../../../gen/inference/inference/grpc_service.js";
import { parseCapacity, type NodeCapacity } from "./capacity.js";
import { RepositoryError } from "./repository-error.js";

/** A node as the client reaches it. */
export interface RepositoryNode {
  /** Names the node in errors and logs. */
  name: string;
  /** `host:port` of its gRPC port. */
  address: string;
  /** The operator token the reference node wants (x-inferencehub-repository-token); stock servers ignore it. */
  token?: string | undefined;
}

/** Triton's states; MLServer writes them as `State.READY`, which reads as READY here. */
export type RepositoryState = "READY" | "LOADING" | "UNLOADING" | "UNAVAILABLE" | "UNKNOWN";

export interface IndexedVersion {
  model: string;
  /** As the server names it: "" for a model a server holds without versions (MLServer's unversioned). */
  version: string;
  state: RepositoryState;
  /** Why it is not READY when the server says ("unloaded", a load error); often "". */
  reason: string;
  /** The state as the server wrote it, when it is not one of Triton's words. */
  rawState?: string;
}

export interface RepositoryIndex {
  versions: IndexedVersion[];
  /** From the reference node's response headers; undefined from servers that report none. */
  capacity: NodeCapacity | undefined;
}

export interface CallOptions {
  /** Overrides the client's deadline for this call. */
  timeoutMs?: number;
}

export interface RepositoryClientOptions {
  /** Deadlines per call; a load waits for the model's sessions, so it gets the longest. */
  timeouts?: Partial<Record<"index" | "load" | "unload" | "ready", number>>;
  log?: Logger;
}

export interface RepositoryClient {
  /** Every model version the server knows of, ready or not (readyOnly: only READY ones). */
  index(node: RepositoryNode, options?: CallOptions & { readyOnly?: boolean }): Promise<RepositoryIndex>;
  /**
   * Loads a model. With versions, asks for exactly those through Triton's `config` parameter
   * (`version_policy.specific`): a Triton server or the reference node then holds those versions
   * of the model and no others (name every version that should stay). Servers that ignore load
   * parameters (MLServer) load every version they have; check with index() or modelReady().
   */
  load(
    node: RepositoryNode,
    model: string,
    versions?: string | readonly string[],
    options?: CallOptions,
  ): Promise<void>;
  /** Unloads every version of a model (the API has no per-version unload). */
  unload(node: RepositoryNode, model: string, options?: CallOptions): Promise<void>;
  /**
   * Whether the server serves that version now. "Not found" reads as false: the reference node
   * answers false, other servers NOT_FOUND, MLServer 1.7.1 UNKNOWN naming its ModelNotFound. Other
   * failures throw.
   */
  modelReady(node: RepositoryNode, model: string, version: string, options?: CallOptions): Promise<boolean>;
  /** Closes every channel; calls already made still settle. */
  close(): void;
}

const DEFAULT_TIMEOUTS = { index: 5_000, load: 120_000, unload: 60_000, ready: 5_000 };
const TRITON_STATES = new Set<string>(["READY", "LOADING", "UNLOADING", "UNAVAILABLE", "UNKNOWN"]);

/** Triton's word for a state, whatever prefix a server's enum printing added. */
export function normalizeState(raw: string): { state: RepositoryState; rawState?: string } {
  const word = raw.replace(/^State\./, "").toUpperCase();
  if (TRITON_STATES.has(word)) return { state: word as RepositoryState };
  return { state: "UNKNOWN", rawState: raw };
}

/** Triton's load parameter for a set of versions: a model config overriding only its version policy. */
export function versionsParameter(versions: readonly string[]): {
  config: { parameterChoice: { $case: "stringParam"; stringParam: string } };
} {
  // Numeric versions go as numbers: Triton's config parser wants int64 there.
  const list = versions.map((v) => (/^(0|[1-9]\d{0,14})$/.test(v) ? Number(v) : v));
  const stringParam = JSON.stringify({ version_policy: { specific: { versions: list } } });
  return { config: { parameterChoice: { $case: "stringParam", stringParam } } };
}

/** A ModelReady failure that only says the server holds no such version. */
function notServed(err: RepositoryError): boolean {
  if (err.code === grpcStatus.NOT_FOUND) return true;
  // MLServer 1.7.1 lets its ModelNotFound escape ModelReady's error mapping as UNKNOWN.
  return err.code === grpcStatus.UNKNOWN && /\bModelNotFound\b/.test(err.details);
}

type Invoke<Res> = (
  client: GRPCInferenceServiceClient,
  metadata: Metadata,
  options: { deadline: number },
  callback: (err: ServiceError | null, res: Res) => void,
) => ClientUnaryCall;

export function createRepositoryClient(options: RepositoryClientOptions = {}): RepositoryClient {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const clients = new Map<string, GRPCInferenceServiceClient>();
  const log = options.log;

  /** One channel per address, kept between calls; its own subchannel pool, as the prober's. */
  const clientFor = (address: string): GRPCInferenceServiceClient => {
    let client = clients.get(address);
    if (!client) {
      const creds = credentials.createInsecure();
      const channel = new Channel(address, creds, {
        "grpc.use_local_subchannel_pool": 1,
        // A node restarted after an outage is reached within a second, not grpc-js's 120 s cap.
        "grpc.initial_reconnect_backoff_ms": 200,
        "grpc.max_reconnect_backoff_ms": 1_000,
      });
      client = new GRPCInferenceServiceClient(address, creds, { channelOverride: channel });
      clients.set(address, client);
    }
    return client;
  };

  async function call<Res>(
    node: RepositoryNode,
    method: string,
    subject: string,
    timeoutMs: number,
    invoke: Invoke<Res>,
    onHeaders?: (headers: Metadata) => void,
  ): Promise<Res> {
    const metadata = new Metadata();
    if (node.token !== undefined) metadata.set(repositoryTokenHeader, node.token);
    const started = performance.now();
    try {
      const res = await new Promise<Res>((resolve, reject) => {
        try {
          const pending = invoke(
            clientFor(node.address),
            metadata,
            { deadline: Date.now() + timeoutMs },
            (err, r) => (err ? reject(err) : resolve(r)),
          );
          if (onHeaders) pending.on("metadata", onHeaders);
        } catch (err) {
          // grpc-js throws at once for a call on a closed channel.
          reject({ code: grpcStatus.UNAVAILABLE, details: err instanceof Error ? err.message : String(err) });
        }
      });
      log?.debug(
        { node: node.name, method, subject, ms: Math.round(performance.now() - started) },
        "repository call",
      );
      return res;
    } catch (err) {
      const { code, details } = err as { code?: number; details?: string };
      const error = new RepositoryError({
        node: node.name,
        address: node.address,
        method,
        subject,
        code: typeof code === "number" ? code : grpcStatus.UNKNOWN,
        details: details ?? String(err),
        timeoutMs,
      });
      log?.debug({ node: node.name, method, subject, code: codeName(error.code) }, "repository call failed");
      throw error;
    }
  }

  return {
    async index(node, opts = {}) {
      let capacity: NodeCapacity | undefined;
      const res = await call<RepositoryIndexResponse>(
        node,
        "RepositoryIndex",
        "",
        opts.timeoutMs ?? timeouts.index,
        (c, md, o, cb) =>
          c.repositoryIndex({ repositoryName: "", ready: opts.readyOnly ?? false }, md, o, cb),
        (headers) => (capacity = parseCapacity(headers)),
      );
      return {
        versions: res.models.map((m) => ({
          model: m.name,
          version: m.version,
          reason: m.reason,
          ...normalizeState(m.state),
        })),
        capacity,
      };
    },

    async load(node, model, versions, opts = {}) {
      const list = versions === undefined ? [] : typeof versions === "string" ? [versions] : [...versions];
      const subject = list.length > 0 ? `${model} (versions ${list.join(", ")})` : model;
      await call(node, "RepositoryModelLoad", subject, opts.timeoutMs ?? timeouts.load, (c, md, o, cb) =>
        c.repositoryModelLoad(
          {
            repositoryName: "",
            modelName: model,
            parameters: list.length > 0 ? versionsParameter(list) : {},
          },
          md,
          o,
          cb,
        ),
      );
    },

    async unload(node, model, opts = {}) {
      await call(node, "RepositoryModelUnload", model, opts.timeoutMs ?? timeouts.unload, (c, md, o, cb) =>
        c.repositoryModelUnload({ repositoryName: "", modelName: model, parameters: {} }, md, o, cb),
      );
    },

    async modelReady(node, model, version, opts = {}) {
      try {
        const res = await call<ModelReadyResponse>(
          node,
          "ModelReady",
          version === "" ? model : `${model} version ${version}`,
          opts.timeoutMs ?? timeouts.ready,
          (c, md, o, cb) => c.modelReady({ name: model, version }, md, o, cb),
        );
        return res.ready;
      } catch (err) {
        if (err instanceof RepositoryError && notServed(err)) return false;
        throw err;
      }
    },

    close() {
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}
