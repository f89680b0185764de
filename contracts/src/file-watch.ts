/**
 * Calls back when a file changes. Editors save by rename as often as in place, so the folder is
 * watched, not the file (a watch on the file dies with its inode). xds-server watches
 * inferencehub.yaml with it, ext-authz the config and its keys and JWKS files.
 * A burst of events from one save becomes one call.
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";

export interface FileWatch {
  close(): void;
}

export function watchFile(path: string, onChange: () => void, debounceMs = 5): FileWatch {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(path), (_event, file) => {
    // Some platforms do not name the file: then any change in the folder counts.
    if (file !== null && file !== name) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  return {
    close: () => {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
