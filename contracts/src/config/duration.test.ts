import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, parseDuration } from "./duration.js";

test("parseDuration reads one unit, exactly", () => {
  const table: [string, number | undefined][] = [
    ["250ms", 250],
    ["10s", 10_000],
    ["1.1s", 1_100],
    ["1.5m", 90_000],
    ["2h", 7_200_000],
    ["0.5ms", 0.5],
    ["10", undefined],
    ["10 seconds", undefined],
    ["1m30s", undefined],
    ["-1s", undefined],
    [".5s", undefined],
  ];
  for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
});

test("formatDuration picks the largest whole unit and round-trips", () => {
  const table: [number, string][] = [
    [250, "250ms"],
    [1_000, "1s"],
    [90_000, "90s"],
    [60_000, "1m"],
    [3_600_000, "1h"],
    [1.5, "1.5ms"],
    [1_100, "1100ms"],
  ];
  for (const [ms, text] of table) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});
