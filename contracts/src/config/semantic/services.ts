/** Addresses of the services Envoy dials by name or IP: the control plane and ext-authz. */
import { isIP } from "node:net";
import { quote } from "../errors.js";
import type { PathSegments } from "../errors.js";
import type { Issue } from "../schema.js";
import { isRecord, splitAddress } from "./shared.js";
import type { Raw } from "./shared.js";

export function checkControlPlane(raw: Raw): Issue[] {
  return isRecord(raw.controlPlane)
    ? checkServiceAddress(raw.controlPlane.address, ["controlPlane", "address"])
    : [];
}

/** ext-authz's address: an IP (brackets for IPv6) or a DNS name, and a port Envoy can connect to. */
export function checkServiceAddress(value: unknown, at: PathSegments): Issue[] {
  if (typeof value !== "string") return [];
  const parts = splitAddress(value);
  // A shape the schema pattern rejects is reported there.
  if (!parts) return [];
  const bracketed = value.startsWith("[");
  const family = isIP(parts.host);
  if ((bracketed && family !== 6) || (family === 0 && /^[0-9.]+$/.test(parts.host))) {
    return [{ segments: at, message: `${quote(parts.host)} is not an IP address (IPv6 goes in brackets)` }];
  }
  if (parts.port < 1 || parts.port > 65535) {
    return [{ segments: at, message: `port ${parts.port} is not from 1 to 65535` }];
  }
  return [];
}
