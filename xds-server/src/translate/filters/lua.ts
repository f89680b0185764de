/**
 * One Lua filter in every Envoy chain, running no script unless a route names one (LuaPerRoute):
 * each script routes a call that names its model somewhere other than the header, and must run
 * before ext_authz checks the call. Its sources are listed here by name.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/lua_filter
 */
import { Lua } from "../../../../gen/envoy/envoy/extensions/filters/http/lua/v3/lua.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../../gen/envoy/google/protobuf/any.js";
import { luaPerRouteTypeUrl, luaTypeUrl, packAny } from "../../resources/index.js";
import type { HttpFilterSpec } from "./http-filter.js";
import { firstMessageMatchesHeadersLua, modelFromFirstMessageLua } from "./model-from-first-message-lua.js";
import { modelFromPathLua } from "./model-from-path.js";

export const luaFilterName = "envoy.filters.http.lua";

/** The scripts, by the name a route gives in its LuaPerRoute (in this order in the filter config). */
const sources = {
  "model-from-first-message": modelFromFirstMessageLua(),
  "model-from-path": modelFromPathLua(),
  "first-message-matches-headers": firstMessageMatchesHeadersLua,
} as const;

export type LuaSourceName = keyof typeof sources;

export const luaFilter: HttpFilterSpec = {
  name: luaFilterName,
  enabled: (_ir, group) => group === "envoy",
  build: () =>
    HttpFilter.fromPartial({
      name: luaFilterName,
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          luaTypeUrl,
          Lua.fromPartial({
            sourceCodes: Object.fromEntries(
              Object.entries(sources).map(([name, code]) => [
                name,
                { specifier: { $case: "inlineString", inlineString: code } },
              ]),
            ),
          }),
        ),
      },
    }),
};

/** A Lua script as an upstream filter, for a cluster's HttpProtocolOptions.http_filters. */
export function luaUpstreamFilter(source: string) {
  return {
    name: luaFilterName,
    configType: {
      $case: "typedConfig" as const,
      typedConfig: packAny(
        luaTypeUrl,
        Lua.fromPartial({
          defaultSourceCode: { specifier: { $case: "inlineString", inlineString: source } },
        }),
      ),
    },
  };
}

/** typed_per_filter_config that runs the script `name` on a route. */
export function luaPerRoute(name: LuaSourceName): Record<string, Any> {
  return { [luaFilterName]: packAny(luaPerRouteTypeUrl, { override: { $case: "name", name } }) };
}

/**
 * typed_per_filter_config that runs a route's own script: for a script that carries data of the
 * routes (the served models), which must change with them rather than with the listener.
 */
export function luaSourcePerRoute(source: string): Record<string, Any> {
  return {
    [luaFilterName]: packAny(luaPerRouteTypeUrl, {
      override: {
        $case: "sourceCode",
        sourceCode: { specifier: { $case: "inlineString", inlineString: source } },
      },
    }),
  };
}
