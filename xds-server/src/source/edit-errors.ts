/** The refusals every config store gives an admin edit the same way. */
import { status } from "@grpc/grpc-js";
import type { ConfigError } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";

/** The edit would make the config invalid: INVALID_ARGUMENT naming every field. */
export function invalidEdit(errors: readonly ConfigError[]): GatewayError {
  return new GatewayError(
    status.INVALID_ARGUMENT,
    `the edit would make the config invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
    { violations: errors.map((e) => ({ field: e.path, message: e.message })) },
  );
}
