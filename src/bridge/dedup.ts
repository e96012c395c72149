/**
 * The keys of one correlation id whose request waits for a reply and is not a query (a request
 * without a reply list keeps none: its publications are idempotent by the correlation id already;
 * nor does a query, which only reads), cluster-wide, in
 * one hash slot (`{#rpc:<id>}`) beside the other keys of the layout (ids are bounded to 200
 * characters by the request's validation):
 * - `record`: a hash that lives RPC_DEDUP_WINDOW_MS: `s` running (`r`) or done (`d`), `o` the
 *   owner (`<consumer>/<entry id>/<delivery>`), `l` the owner's lease (ms, Redis clock), `r` the
 *   stored reply, of RPC_DEDUP_MAX_REPLY_BYTES at most (lua/library.lua);
 * - `waiters`: the reply lists of duplicates acknowledged while the record's owner runs; its
 *   finish pushes the reply to each.
 */
export interface DedupKeys {
  readonly record: string;
  readonly waiters: string;
}

export function dedupKeys(prefix: string, correlationId: string): DedupKeys {
  const slot = `${prefix}{#rpc:${correlationId}}`;
  return { record: `${slot}:record`, waiters: `${slot}:waiters` };
}
