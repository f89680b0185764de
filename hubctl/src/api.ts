/** The admin API's HTTP/JSON front, as hubctl calls it: a failed call throws a GatewayError. */
import type { AdminApiErrorBody } from "@inferencehub/contracts/admin-api";
import { Code, GatewayError } from "@inferencehub/contracts/errors";

/** The gRPC code the server named, or the one its HTTP status stands for (a proxy's answer names none). */
function codeOfAnswer(httpStatus: number, name: string | undefined): Code {
  if (name !== undefined && name in Code) return Code[name as keyof typeof Code];
  if (httpStatus === 401) return Code.UNAUTHENTICATED;
  if (httpStatus === 403) return Code.PERMISSION_DENIED;
  if (httpStatus === 404) return Code.NOT_FOUND;
  return httpStatus >= 500 ? Code.UNAVAILABLE : Code.UNKNOWN;
}
export interface AdminApi {
  get<T>(path: string): Promise<T>;
  send<T>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T>;
}

export function createAdminApi(server: string, token: string | undefined): AdminApi {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(new URL(path, server), {
        method,
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new GatewayError(
        Code.UNAVAILABLE,
        `cannot reach the control plane at ${server} (${(err as Error).message}); is xds-server running? (--server)`,
      );
    }
    const json = (await res.json().catch(() => ({}))) as Partial<AdminApiErrorBody>;
    if (!res.ok) {
      const hint = res.status === 401 ? " (set INFERENCEHUB_ADMIN_TOKEN or --token)" : "";
      throw new GatewayError(codeOfAnswer(res.status, json.code), `${json.error ?? res.statusText}${hint}`, {
        violations: json.violations ?? [],
      });
    }
    return json as T;
  };
  return { get: (path) => call("GET", path), send: (method, path, body) => call(method, path, body) };
}
