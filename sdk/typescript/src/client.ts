/**
 * The InferenceHub client: Open Inference Protocol (KServe v2) gRPC calls through the gateway,
 * with typed arrays in and out, the routing headers set from the call, and typed errors.
 */
import { once } from "node:events";
import {
  credentials as grpcCredentials,
  Metadata,
  status,
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientUnaryCall,
  type ServiceError,
} from "@grpc/grpc-js";
import {
  GRPCInferenceServiceClient,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelStreamInferResponse,
} from "../../../gen/inference/inference/grpc_service.js";
import { InferenceHubError, toError } from "./errors.js";
import {
  decodeOutputs,
  encodeInputs,
  type Datatype,
  type Inputs,
  type Tensor,
  type DataOf,
} from "./tensors.js";

/** The routing headers of the gateway's contract (docs/DESIGN.md, "Contracts"). */
export const MODEL_HEADER = "inferencehub-model";
export const VERSION_HEADER = "inferencehub-model-version";

export interface ClientOptions {
  /** An API key, sent as `authorization: Bearer <key>`. */
  apiKey?: string;
  /** A JWT, sent as `authorization: Bearer <token>` (when both are given, the token wins). */
  token?: string;
  /** The default deadline of each unary call, in ms (none when unset). */
  timeoutMs?: number;
  /** Channel credentials; default: plaintext (the local stack). `credentials.createSsl()` for TLS. */
  credentials?: ChannelCredentials;
  /** grpc-js channel options, passed as they are. */
  channelOptions?: ChannelOptions;
  /**
   * Extra attempts of the read-only calls (ready, live, metadata, models) that fail UNAVAILABLE,
   * 100 ms apart and doubling (default 2). Never applied to infer or stream: see README, "Retries".
   */
  readRetries?: number;
}

export interface CallOpts {
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
  /** Cancels the call (it rejects with CANCELLED). */
  signal?: AbortSignal;
  /** Extra request metadata. */
  headers?: Record<string, string>;
}

export interface InferOptions extends CallOpts {
  /** Pins the version (sent as the version header and in the body); default: the gateway's split. */
  version?: string;
  /** Send inputs as raw bytes (default true; FP16 forces it). false sends the typed `contents` fields. */
  raw?: boolean;
  /** Ask for these outputs only (default: all). */
  outputs?: string[];
  /** The request id, echoed in the response. */
  id?: string;
}

export interface StreamOptions {
  version?: string;
  raw?: boolean;
  outputs?: string[];
  /** A deadline for the whole stream (default: none). */
  timeoutMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** What `infer` answers. */
export class InferResult {
  constructor(
    readonly modelName: string,
    readonly modelVersion: string,
    readonly id: string,
    readonly outputs: Record<string, Tensor>,
  ) {}

  /** The output `name`, checked to be of `datatype`, with its data typed to match. */
  output<D extends Datatype>(name: string, datatype: D): Tensor<D> & { data: DataOf[D] } {
    const t = this.outputs[name];
    if (!t) throw new Error(`no output '${name}' (outputs: ${Object.keys(this.outputs).join(", ")})`);
    if (t.datatype !== datatype) throw new Error(`output '${name}' is ${t.datatype}, not ${datatype}`);
    return t as Tensor<D>;
  }

  static from(response: ModelInferResponse): InferResult {
    return new InferResult(
      response.modelName,
      response.modelVersion,
      response.id,
      decodeOutputs(response.outputs, response.rawOutputContents),
    );
  }
}

/** One model version in `models()`: state READY when a node can take its calls now, else UNAVAILABLE. */
export interface ModelIndexEntry {
  name: string;
  version: string;
  state: string;
  reason: string;
}

export interface TensorInfo {
  name: string;
  datatype: string;
  /** -1 marks a variable-size dimension. */
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

type Callback<Res> = (err: ServiceError | null, res?: Res) => void;
type UnaryMethod<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: Partial<CallOptions>,
  cb: Callback<Res>,
) => ClientUnaryCall;
/** Picks a method of whichever generated client serves the call (one per model when proxyless). */
type MethodOf<Req, Res> = (stub: GRPCInferenceServiceClient) => UnaryMethod<Req, Res>;

export interface ProxylessOptions {
  /** The control plane's ADS address, e.g. "127.0.0.1:18000". */
  controlPlane: string;
  /** This client's xDS node id (default: inferencehub-sdk-<pid>); the control plane lists it in /status. */
  nodeId?: string;
  timeoutMs?: number;
  channelOptions?: ChannelOptions;
  readRetries?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Client {
  private readonly options: ClientOptions;
  /** The gateway's channel; none when proxyless. */
  private readonly gateway: GRPCInferenceServiceClient | undefined;
  /** Proxyless: one channel per model (`xds:///<model>`), made on the model's first call. */
  private readonly perModel = new Map<string, GRPCInferenceServiceClient>();

  /**
   * `target`: the gateway (`host:port`), or `xds:` for proxyless (after grpc-js-xds is registered;
   * `Client.proxyless` does both).
   */
  constructor(target: string, options: ClientOptions = {}) {
    this.options = options;
    if (!target.startsWith("xds:")) {
      this.gateway = this.channel(target);
    } else if (options.apiKey !== undefined || options.token !== undefined) {
      throw new TypeError(
        "a proxyless client calls nodes directly and nodes check no credentials: an API key or token " +
          "must stop at the gateway, so none is sent; drop apiKey/token, or call through the gateway",
      );
    }
  }

  /** The generated grpc-js client, for calls this SDK does not wrap yet (ModelConfig, statistics). */
  get grpc(): GRPCInferenceServiceClient {
    if (!this.gateway) throw new TypeError("a proxyless client has a channel per model: use stubFor(model)");
    return this.gateway;
  }

  /** The generated client a call about `model` goes through (the gateway's, or the model's when proxyless). */
  stubFor(model?: string): GRPCInferenceServiceClient {
    if (this.gateway) return this.gateway;
    if (model === undefined) {
      throw new InferenceHubError(
        status.UNIMPLEMENTED,
        "ServerLive and ServerReady are the gateway's answers: a proxyless client has no gateway; ask ready(model)",
      );
    }
    let stub = this.perModel.get(model);
    if (!stub) this.perModel.set(model, (stub = this.channel(`xds:///${model}`)));
    return stub;
  }

  private channel(target: string): GRPCInferenceServiceClient {
    return new GRPCInferenceServiceClient(
      target,
      this.options.credentials ?? grpcCredentials.createInsecure(),
      this.options.channelOptions ?? {},
    );
  }

  /**
   * A client with no gateway in the path: grpc-js-xds takes the routes, weights and endpoints from
   * the control plane and calls the nodes itself, one channel per model (`xds:///<model>`). For
   * callers inside the fleet's network only: nodes check no keys, so none is sent (see README).
   * grpc-js-xds reads its bootstrap once per process: the first proxyless client's settings hold.
   */
  static async proxyless(options: ProxylessOptions): Promise<Client> {
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG ??= JSON.stringify({
      xds_servers: [
        {
          server_uri: options.controlPlane,
          channel_creds: [{ type: "insecure" }],
          server_features: ["xds_v3"],
        },
      ],
      node: {
        id: options.nodeId ?? `inferencehub-sdk-${process.pid}`,
        cluster: "inferencehub-sdk",
        locality: {},
      },
    });
    const xds = await import("@grpc/grpc-js-xds");
    xds.register();
    const { controlPlane: _, nodeId: __, ...rest } = options;
    return new Client("xds:///", rest);
  }

  close(): void {
    this.gateway?.close();
    for (const stub of this.perModel.values()) stub.close();
    this.perModel.clear();
  }

  /** Runs `model` once on `inputs`; rejects with an InferenceHubError subclass. */
  async infer(model: string, inputs: Inputs, opts: InferOptions = {}): Promise<InferResult> {
    const response = await this.unary((s) => s.modelInfer, this.request(model, inputs, opts), model, opts);
    return InferResult.from(response);
  }

  /**
   * ModelStreamInfer: sends each element of `inputs` as a request on one stream, in order, and
   * yields each answer as it comes. A per-message error (the stream's `error_message`) throws an
   * InferenceHubError (code UNKNOWN); the stream's own failure throws its status's class.
   */
  async *stream(
    model: string,
    inputs: AsyncIterable<Inputs> | Iterable<Inputs>,
    opts: StreamOptions = {},
  ): AsyncGenerator<InferResult, void, undefined> {
    const callOptions: Partial<CallOptions> = {};
    if (opts.timeoutMs !== undefined) callOptions.deadline = Date.now() + opts.timeoutMs;
    const call = this.stubFor(model).modelStreamInfer(
      this.callMetadata(model, opts.version, opts.headers),
      callOptions,
    );
    const onAbort = () => call.cancel();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    // Sends the inputs as the caller produces them; stops, without waiting on them, once the
    // answers' side is over (a caller that breaks out of its loop must not hang on its inputs).
    const over = new AbortController();
    let pumpError: unknown;
    void (async () => {
      try {
        for await (const one of inputs) {
          if (over.signal.aborted) return;
          if (!call.write(this.request(model, one, opts))) await once(call, "drain", { signal: over.signal });
        }
        if (!over.signal.aborted) call.end();
      } catch (err) {
        if (over.signal.aborted) return;
        pumpError = err;
        call.cancel();
      }
    })();
    let done = false;
    try {
      for await (const message of call as AsyncIterable<ModelStreamInferResponse>) {
        if (message.errorMessage) throw new InferenceHubError(status.UNKNOWN, message.errorMessage);
        if (message.inferResponse) yield InferResult.from(message.inferResponse);
      }
      done = true;
    } catch (err) {
      throw pumpError ?? toError(err);
    } finally {
      over.abort();
      opts.signal?.removeEventListener("abort", onAbort);
      if (!done) call.cancel();
    }
    if (pumpError !== undefined) throw pumpError;
  }

  /** ServerReady without a model (the whole gateway), ModelReady with one. */
  async ready(model?: string, opts: CallOpts & { version?: string } = {}): Promise<boolean> {
    if (model === undefined) {
      const r = await this.read((s) => s.serverReady, {}, undefined, opts);
      return r.ready;
    }
    const r = await this.read((s) => s.modelReady, { name: model, version: opts.version ?? "" }, model, {
      ...opts,
    });
    return r.ready;
  }

  /**
   * The model versions the gateway serves that this caller may call (RepositoryIndex naming no
   * model: the control plane answers it for the caller's tenant). `readyOnly`: only those a node
   * can take calls for now.
   */
  async models(opts: CallOpts & { readyOnly?: boolean } = {}): Promise<ModelIndexEntry[]> {
    const r = await this.read(
      (s) => s.repositoryIndex,
      { repositoryName: "", ready: opts.readyOnly ?? false },
      undefined,
      opts,
    );
    return r.models.map((m) => ({ name: m.name, version: m.version, state: m.state, reason: m.reason }));
  }

  /** ServerLive: the gateway is up. */
  async live(opts: CallOpts = {}): Promise<boolean> {
    return (await this.read((s) => s.serverLive, {}, undefined, opts)).live;
  }

  /** ModelMetadata: the model's versions, platform, and inputs and outputs with datatypes and shapes. */
  async metadata(model: string, opts: CallOpts & { version?: string } = {}): Promise<ModelMetadata> {
    const r = await this.read(
      (s) => s.modelMetadata,
      { name: model, version: opts.version ?? "" },
      model,
      opts,
    );
    const info = (t: TensorInfo) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] });
    return {
      name: r.name,
      versions: [...r.versions],
      platform: r.platform,
      inputs: r.inputs.map(info),
      outputs: r.outputs.map(info),
    };
  }

  private request(model: string, inputs: Inputs, opts: InferOptions | StreamOptions): ModelInferRequest {
    const encoded = encodeInputs(inputs, opts.raw ?? true);
    return {
      modelName: model,
      modelVersion: opts.version ?? "",
      id: "id" in opts ? (opts.id ?? "") : "",
      parameters: {},
      inputs: encoded.inputs,
      outputs: (opts.outputs ?? []).map((name) => ({ name, parameters: {} })),
      rawInputContents: encoded.rawInputContents,
    };
  }

  private callMetadata(
    model: string | undefined,
    version: string | undefined,
    extra: Record<string, string> = {},
  ) {
    const md = new Metadata();
    for (const [k, v] of Object.entries(extra)) md.set(k, v);
    const bearer = this.options.token ?? this.options.apiKey;
    if (bearer) md.set("authorization", `Bearer ${bearer}`);
    if (model !== undefined) md.set(MODEL_HEADER, model);
    if (version) md.set(VERSION_HEADER, version);
    return md;
  }

  /** A read-only call: retried on UNAVAILABLE, since running it twice changes nothing. */
  private async read<Req, Res>(
    method: MethodOf<Req, Res>,
    req: Req,
    model: string | undefined,
    opts: CallOpts & { version?: string },
  ): Promise<Res> {
    const retries = this.options.readRetries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.unary(method, req, model, opts);
      } catch (err) {
        if (attempt >= retries || !(err instanceof InferenceHubError) || err.code !== status.UNAVAILABLE)
          throw err;
        if (opts.signal?.aborted) throw err;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  private unary<Req, Res>(
    method: MethodOf<Req, Res>,
    req: Req,
    model: string | undefined,
    opts: CallOpts & { version?: string },
  ): Promise<Res> {
    let stub: GRPCInferenceServiceClient;
    try {
      stub = this.stubFor(model);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeoutMs = opts.timeoutMs ?? this.options.timeoutMs;
    const callOptions: Partial<CallOptions> = {};
    if (timeoutMs !== undefined) callOptions.deadline = Date.now() + timeoutMs;
    return new Promise<Res>((resolve, reject) => {
      const call = method(stub).call(
        stub,
        req,
        this.callMetadata(model, opts.version, opts.headers),
        callOptions,
        (err: ServiceError | null, res?: Res) => {
          opts.signal?.removeEventListener("abort", onAbort);
          if (err) reject(toError(err));
          else if (res) resolve(res);
          else reject(new InferenceHubError(status.INTERNAL, "no response and no error"));
        },
      );
      const onAbort = () => call.cancel();
      if (opts.signal?.aborted) call.cancel();
      else opts.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
