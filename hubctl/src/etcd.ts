/**
 * hubctl apply and export: a whole config into and out of etcd, for control planes that keep it
 * there (--etcd). GitOps users keep inferencehub.yaml in git and apply it; edits made through the
 * admin API since then come back with export. These talk to etcd directly, not to the admin API:
 * whoever can write etcd under the prefix can change routing, so guard etcd as the admin API is.
 *   hubctl apply -f inferencehub.yaml --etcd http://etcd:2379 [--etcd-prefix /inferencehub/] [--if-empty]
 *   hubctl export --etcd http://etcd:2379 [--etcd-prefix /inferencehub/] [-o file]
 * Both take the control plane's TLS and user options: --etcd-ca, --etcd-cert, --etcd-key (https://
 * endpoints), --etcd-user with --etcd-password-file.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import type { Etcd3 } from "etcd3";
import { parse as parseYaml, stringify } from "yaml";
import { formatErrors, parseConfig, parseConfigValue, type RawConfig } from "@inferencehub/contracts/config";
import {
  defaultEtcdPrefix,
  etcdClient,
  etcdFailureHint,
  etcdLayout,
  readConfig,
  readEtcdSecurity,
  writeConfig,
} from "@inferencehub/contracts/etcd-config";

const endpointsOption = () =>
  new Option("--etcd <urls>", "etcd client URLs, comma-separated")
    .env("INFERENCEHUB_ETCD_ENDPOINTS")
    .makeOptionMandatory();
const prefixOption = () =>
  new Option("--etcd-prefix <prefix>", "the key prefix the control planes use")
    .env("INFERENCEHUB_ETCD_PREFIX")
    .default(defaultEtcdPrefix);

/** TLS and etcd user options, as the control plane takes them (and from the same environment). */
const securityOptions = () => [
  new Option("--etcd-ca <file>", "PEM of the CA that signed etcd's certificates (https:// endpoints)").env(
    "INFERENCEHUB_ETCD_CA",
  ),
  new Option("--etcd-cert <file>", "PEM of the client certificate etcd asks for").env(
    "INFERENCEHUB_ETCD_CERT",
  ),
  new Option("--etcd-key <file>", "PEM of its private key").env("INFERENCEHUB_ETCD_KEY"),
  new Option("--etcd-user <name>", "an etcd user, when etcd's auth is enabled").env("INFERENCEHUB_ETCD_USER"),
  new Option("--etcd-password-file <file>", "a file holding that user's password").env(
    "INFERENCEHUB_ETCD_PASSWORD_FILE",
  ),
];

interface EtcdOptions {
  etcd: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPasswordFile?: string;
}

/**
 * Runs `use` with a client for the options given, closing it after. Throws, naming the option,
 * when the options cannot work together, and says what to check when etcd cannot be reached.
 */
async function withClient<T>(o: EtcdOptions, use: (client: Etcd3) => Promise<T>): Promise<T> {
  const endpoints = o.etcd
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  const security = readEtcdSecurity(endpoints, {
    caFile: o.etcdCa,
    certFile: o.etcdCert,
    keyFile: o.etcdKey,
    user: o.etcdUser,
    passwordFile: o.etcdPasswordFile,
  });
  const client = etcdClient(endpoints, undefined, security);
  try {
    return await use(client);
  } catch (err) {
    // What fails in here is a call to etcd: say which, and what to check.
    throw new Error(
      `etcd (${endpoints.join(", ")}): ${(err as Error).message.trim()}\n${etcdFailureHint(err)}`,
    );
  } finally {
    client.close();
  }
}

const withEtcdOptions = (command: Command): Command => {
  command.addOption(endpointsOption()).addOption(prefixOption());
  for (const option of securityOptions()) command.addOption(option);
  return command;
};

export function etcdCommands(json: () => boolean): Command[] {
  const out = (value: unknown, text: () => string) =>
    console.log(json() ? JSON.stringify(value, null, 2) : text());

  const apply = new Command("apply")
    .description(
      "write a whole config file into etcd: entries that differ, and removals; every control plane follows",
    )
    .requiredOption("-f, --file <file>", "the config to apply (inferencehub.yaml)")
    .option("--if-empty", "write only when etcd holds no config under the prefix (a seed)", false)
    .action(async (o: EtcdOptions & { file: string; etcdPrefix: string; ifEmpty: boolean }) => {
      const text = await readFile(o.file, "utf8");
      const parsed = parseConfig(text, o.file);
      if (!parsed.ok)
        throw new Error(
          `${o.file} is not a valid config; nothing was written:\n${formatErrors(parsed.errors)}`,
        );
      await withClient(o, async (client) => {
        const r = await writeConfig(client, etcdLayout(o.etcdPrefix), parseYaml(text) as RawConfig, {
          ifEmpty: o.ifEmpty,
        });
        out(r, () =>
          r.puts + r.deletes === 0
            ? `unchanged: etcd already holds ${o.file} (revision ${r.revision})`
            : `applied ${o.file}: ${r.puts} entries written, ${r.deletes} removed, config version ${r.revision}${
                r.chunked ? " (in several transactions: it was too large for one)" : ""
              }`,
        );
      });
    });

  const exportCmd = new Command("export")
    .description("print the config held in etcd as inferencehub.yaml (admin API edits included)")
    .option("-o, --output <file>", "write it to this file instead of standard output")
    .action(async (o: EtcdOptions & { etcdPrefix: string; output?: string }) => {
      await withClient(o, async (client) => {
        const { raw, errors, revision } = await readConfig(client, etcdLayout(o.etcdPrefix));
        const checked = errors.length > 0 ? undefined : parseConfigValue(raw);
        const problems = checked === undefined ? errors : checked.ok ? [] : checked.errors;
        if (problems.length > 0)
          console.error(
            `hubctl: warning: the config in etcd is not valid as it stands:\n${formatErrors(problems)}`,
          );
        const text = `# Exported from etcd (${o.etcd}, prefix ${o.etcdPrefix}) at revision ${revision}.\n${stringify(raw, { lineWidth: 0 })}`;
        if (!o.output) process.stdout.write(text);
        else {
          // Renamed into place: a reader (or a watching control plane) never sees half a file.
          await writeFile(`${o.output}.tmp`, text);
          await rename(`${o.output}.tmp`, o.output);
          if (json()) out({ file: o.output, revision }, () => "");
        }
      });
    });
  return [withEtcdOptions(apply), withEtcdOptions(exportCmd)];
}
