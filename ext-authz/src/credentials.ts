/**
 * The caller's credential from the `authorization` header: exactly one value, `Bearer <token>`.
 * Envoy sends every value of a repeated header apart (encode_raw_headers), so a second value, a
 * comma-joined pair or any other scheme is refused rather than one of them picked.
 * https://datatracker.ietf.org/doc/html/rfc6750#section-2.1
 */
import { unauthenticated } from "./errors.js";

export type Credential = { kind: "api-key"; key: string } | { kind: "jwt"; token: string };

/** RFC 6750's b64token after the scheme; the scheme is case-insensitive (RFC 9110 section 11.1). */
const bearer = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/** Three base64url segments: a JWS in compact serialization. API keys have no dots. */
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const howTo = "send one header 'authorization: Bearer <API key or JWT>'";

export function parseAuthorization(values: readonly string[]): Credential {
  if (values.length === 0) throw unauthenticated(`no credentials: ${howTo}`);
  if (values.length > 1) throw unauthenticated(`${values.length} authorization headers: ${howTo}`);
  const match = bearer.exec(values[0]?.trim() ?? "");
  const token = match?.[1];
  if (!token) throw unauthenticated(`the authorization header is not a bearer token: ${howTo}`);
  return compactJws.test(token) ? { kind: "jwt", token } : { kind: "api-key", key: token };
}
