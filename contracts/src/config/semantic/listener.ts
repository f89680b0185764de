/** The listener section: the address Envoy listens on. */
import { isIP } from "node:net";
import { quote } from "../errors.js";
import type { Issue } from "../schema.js";
import { isRecord } from "./shared.js";

export function checkListener(listener: unknown): Issue[] {
  if (!isRecord(listener) || typeof listener.address !== "string" || isIP(listener.address)) return [];
  return [{ segments: ["listener", "address"], message: `${quote(listener.address)} is not an IP address` }];
}
