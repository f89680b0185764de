/** An ADS server over a real socket and raw SotW/delta streams, for the server tests and the xDS benches. */
export * from "./ads-harness.js";
