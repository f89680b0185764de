/**
 * The calls about the gateway as a whole, which Envoy sends here when they name no model
 * (translate/routes.ts, serverRoute): ServerLive (the gateway is up), ServerReady (a config serves
 * and every model has a version with a node up), ServerMetadata, and RepositoryIndex (the model
 * versions the caller's tenant may call: gateway-index.ts). Every other method of the service is
 * UNIMPLEMENTED (grpc-js answers so for a method without a handler).
 * https://github.com/kserve/open-inference-protocol/blob/main/specification/protocol/inference_grpc.md
 */
import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import { tenantHeader } from "@inferencehub/contracts/headers";
import { gatewayServerName, gatewayVersion } from "@inferencehub/contracts/protocol";
import type {
  GRPCInferenceServiceServer,
  RepositoryIndexRequest,
  RepositoryIndexResponse,
  RepositoryIndexResponse_ModelIndex,
  ServerLiveRequest,
  ServerLiveResponse,
  ServerMetadataRequest,
  ServerMetadataResponse,
  ServerReadyRequest,
  ServerReadyResponse,
} from "../../../gen/inference/inference/grpc_service.js";
import type { HttpBody } from "../../../gen/inference/google/api/httpbody.js";
import type { GatewayIndexServer } from "../../../gen/inference/inferencehub/gateway/v1/repository_index.js";
import type { GatewayIR } from "../ir/index.js";

/** Ready when a config serves and every model has a version that takes calls with a node up (GatewayIR.ready). */
export function gatewayReady(ir: GatewayIR | undefined): boolean {
  return ir?.ready ?? false;
}

/** Only the server-level handlers: grpc-js answers UNIMPLEMENTED for the methods left out. */
export type ServerCallsService = Pick<
  GRPCInferenceServiceServer,
  "serverLive" | "serverReady" | "serverMetadata" | "repositoryIndex"
> &
  UntypedServiceImplementation;

export interface GatewayAnswers {
  ready(): boolean;
  /** The index for this tenant (none: no auth at the gateway); throws a GatewayError to refuse. */
  index(tenant: string | undefined, readyOnly: boolean): RepositoryIndexResponse_ModelIndex[];
}

export function createServerCallsService(answers: GatewayAnswers): ServerCallsService {
  const { ready } = answers;
  return {
    serverLive: (
      _call: ServerUnaryCall<ServerLiveRequest, ServerLiveResponse>,
      done: sendUnaryData<ServerLiveResponse>,
    ) => done(null, { live: true }),
    serverReady: (
      _call: ServerUnaryCall<ServerReadyRequest, ServerReadyResponse>,
      done: sendUnaryData<ServerReadyResponse>,
    ) => done(null, { ready: ready() }),
    serverMetadata: (
      _call: ServerUnaryCall<ServerMetadataRequest, ServerMetadataResponse>,
      done: sendUnaryData<ServerMetadataResponse>,
    ) => done(null, { name: gatewayServerName, version: gatewayVersion, extensions: [] }),
    repositoryIndex: (
      call: ServerUnaryCall<RepositoryIndexRequest, RepositoryIndexResponse>,
      done: sendUnaryData<RepositoryIndexResponse>,
    ) => answerIndex(answers, call, done, (models) => ({ models })),
  };
}

/**
 * The REST form's index, as Envoy's transcoder sends it (translate/filters/rest-index.ts): the
 * same answer as an HTTP body, the JSON array Triton's `POST /v2/repository/index` answers.
 */
export function createGatewayIndexService(answers: GatewayAnswers): GatewayIndexServer {
  return {
    repositoryIndex: (
      call: ServerUnaryCall<RepositoryIndexRequest, HttpBody>,
      done: sendUnaryData<HttpBody>,
    ) =>
      answerIndex(answers, call, done, (models) => ({
        contentType: "application/json",
        data: Buffer.from(JSON.stringify(models.map(({ reason, ...m }) => (reason ? { ...m, reason } : m)))),
        extensions: [],
      })),
  };
}

function answerIndex<Res>(
  answers: GatewayAnswers,
  call: ServerUnaryCall<RepositoryIndexRequest, Res>,
  done: sendUnaryData<Res>,
  form: (models: RepositoryIndexResponse_ModelIndex[]) => Res,
): void {
  const tenants = call.metadata.get(tenantHeader).map(String);
  try {
    if (tenants.length > 1) {
      throw new GatewayError(status.INVALID_ARGUMENT, `one ${tenantHeader} header, not ${tenants.length}`);
    }
    done(null, form(answers.index(tenants[0], call.request.ready)));
  } catch (err) {
    const e = GatewayError.from(err);
    done({ code: e.code, details: e.message });
  }
}
