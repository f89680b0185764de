/** Helpers for the prober's unit tests; nothing here runs in the control plane. */
export { createFakeClock, type FakeClock } from "@inferencehub/contracts/testing/fake-clock";
export { createFakeTransport } from "./fake-transport.js";
export type { FakeNode, FakeTransport, ProbeCall } from "./fake-transport.js";
export { testConfig } from "./config.js";
export type { RawHealth, TestConfigSpec } from "./config.js";
