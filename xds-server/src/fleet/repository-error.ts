/**
 * A failed repository call, with what a reconciler decides on: the gRPC code (kept as the
 * server sent it), and a message that names the node, the call and what the server said, with a
 * hint where the code alone leaves the operator guessing.
 */
import { status } from "@grpc/grpc-js";
import { codeName } from "@inferencehub/contracts/errors";

export interface RepositoryErrorFields {
  node: string;
  address: string;
  /** The RPC: RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload, ModelReady. */
  method: string;
  /** What it was about: the model (and versions), "" for the index. */
  subject: string;
  code: number;
  /** The server's own message. */
  details: string;
  timeoutMs: number;
}

function hint(f: RepositoryErrorFields): string {
  switch (f.code) {
    case status.DEADLINE_EXCEEDED:
      return f.method === "RepositoryModelLoad" || f.method === "RepositoryModelUnload"
        ? `no answer within ${f.timeoutMs} ms; the node may still finish it: check its index`
        : `no answer within ${f.timeoutMs} ms`;
    case status.UNAVAILABLE:
      return "the node cannot be reached";
    case status.UNIMPLEMENTED:
      return "the server does not implement this call (Triton's model repository extension)";
    case status.PERMISSION_DENIED:
      return "the node wants its operator token";
    case status.RESOURCE_EXHAUSTED:
      return "the node is full";
    default:
      return "";
  }
}

export class RepositoryError extends Error {
  override readonly name = "RepositoryError";
  readonly node: string;
  readonly method: string;
  /** The gRPC status code (`@grpc/grpc-js` status). */
  readonly code: number;
  /** The server's message, as sent. */
  readonly details: string;

  constructor(fields: RepositoryErrorFields) {
    const what = fields.subject === "" ? fields.method : `${fields.method} ${fields.subject}`;
    const h = hint(fields);
    super(
      `${what} on node ${fields.node} (${fields.address}): ${codeName(fields.code)}: ${fields.details}${h && ` (${h})`}`,
    );
    this.node = fields.node;
    this.method = fields.method;
    this.code = fields.code;
    this.details = fields.details;
  }
}
