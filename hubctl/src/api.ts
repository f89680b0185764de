/** The admin API's HTTP/JSON front, as hubctl calls it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly violations: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
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
      throw new ApiError(
        0,
        `cannot reach the control plane at ${server} (${(err as Error).message}); is xds-server running? (--server)`,
      );
    }
    const json = (await res.json().catch(() => ({}))) as {
      error?: string;
      violations?: { field: string; message: string }[];
    };
    if (!res.ok) {
      const hint = res.status === 401 ? " (set INFERENCEHUB_ADMIN_TOKEN or --token)" : "";
      throw new ApiError(res.status, `${json.error ?? res.statusText}${hint}`, json.violations ?? []);
    }
    return json as T;
  };
  return { get: (path) => call("GET", path), send: (method, path, body) => call(method, path, body) };
}
