/**
 * A port a service listens on, as its command line or environment gives it: an integer from 0
 * (the OS picks one, as the tests ask) to 65535; undefined for anything else.
 */
export function parseListenPort(text: string | undefined): number | undefined {
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}
