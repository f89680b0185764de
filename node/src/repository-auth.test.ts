// issue #10 finding 1: repository calls need the operator token; none configured refuses them all.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Metadata, status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import {
  DENIED_MESSAGE,
  loadRepositoryToken,
  parseRepositoryToken,
  REPOSITORY_TOKEN_HEADER,
  repositoryGuard,
} from "./repository-auth.js";

const withToken = (...values: string[]) => {
  const md = new Metadata();
  for (const v of values) md.add(REPOSITORY_TOKEN_HEADER, v);
  return md;
};

const refusedWith = (code: status, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof GatewayError);
  assert.equal(err.code, code);
  if (message) assert.match(err.message, message);
  return true;
};

test("the right token passes; a missing, wrong, longer, shorter or doubled one is PERMISSION_DENIED", () => {
  const check = repositoryGuard("s3cret-token");
  assert.doesNotThrow(() => check(withToken("s3cret-token")));
  for (const md of [
    new Metadata(),
    withToken(""),
    withToken("s3cret-tokeN"),
    withToken("s3cret-token-and-more"),
    withToken("s3cret"),
    withToken("s3cret-token", "s3cret-token"),
    withToken("other", "s3cret-token"),
  ]) {
    assert.throws(
      () => check(md),
      refusedWith(
        status.PERMISSION_DENIED,
        /^repository calls need the operator token \(x-inferencehub-repository-token\)$/,
      ),
    );
  }
  assert.match(DENIED_MESSAGE, /x-inferencehub-repository-token/);
});

test("no token configured: every repository call is refused, saying how to enable them", () => {
  const check = repositoryGuard(undefined);
  assert.throws(
    () => check(withToken("anything")),
    refusedWith(status.FAILED_PRECONDITION, /--repository-token-file.*INFERENCEHUB_REPOSITORY_TOKEN/),
  );
  assert.throws(() => check(new Metadata()), refusedWith(status.FAILED_PRECONDITION));
});

test("the token comes from the file (trimmed), else the environment, else none", () => {
  const dir = mkdtempSync(join(tmpdir(), "repo-token-"));
  try {
    const file = join(dir, "token");
    writeFileSync(file, "from-file\n");
    assert.equal(
      loadRepositoryToken({ file, env: { INFERENCEHUB_REPOSITORY_TOKEN: "from-env" } }),
      "from-file",
    );
    assert.equal(loadRepositoryToken({ env: { INFERENCEHUB_REPOSITORY_TOKEN: "from-env" } }), "from-env");
    assert.equal(loadRepositoryToken({ env: {} }), undefined);
    assert.equal(loadRepositoryToken({ env: { INFERENCEHUB_REPOSITORY_TOKEN: "" } }), undefined);
    writeFileSync(file, "\n");
    assert.throws(() => loadRepositoryToken({ file, env: {} }), /is empty/);
    assert.throws(
      () => loadRepositoryToken({ file: join(dir, "missing"), env: {} }),
      /--repository-token-file/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a token with spaces or non-ASCII is refused at start (it could not travel as metadata)", () => {
  assert.throws(() => parseRepositoryToken("two words", "test"), /printable ASCII/);
  assert.throws(() => parseRepositoryToken("tökén", "test"), /printable ASCII/);
  assert.equal(parseRepositoryToken("  ok-token \n", "test"), "ok-token");
});
