import { hashTagOf } from '../redis/hash-tag';

/**
 * The keys of one correlation id whose request waits for a reply and is not a query (a request
 * without a reply list keeps none: its publications are idempotent by the correlation id already;
 * nor does a query, which only reads), cluster-wide (ids are bounded to 200 characters by the
 * request's validation):
 * - `record`: a hash that lives RPC_DEDUP_WINDOW_MS: `s` running (`r`), done (`d`) or final but
 *   not kept (`f`), `o` the owner (`<consumer>/<entry id>/<delivery>`), `l` the owner's lease (ms,
 *   Redis clock), `r` the reply, of RPC_DEDUP_MAX_REPLY_BYTES at most when kept (lua/library.lua);
 * - `waiters`: the reply lists of duplicates acknowledged while the record's owner runs; they are
 *   answered with the record's reply before they are dropped.
 */
export interface DedupKeys {
  readonly record: string;
  readonly waiters: string;
}

/**
 * In the request stream's slot when its name carries a hash tag (`P{tag}#rpc:<id>:…`, required
 * on a Redis Cluster: a take, a finish and a keep-alive touch the stream and the record in one
 * script); otherwise in a slot of the id's own (`P{#rpc:<id>}:…`, one Redis). The `#` after the
 * tag keeps them apart from the rooms' keys (`P{room}:…`), the prefix and ids having no braces.
 */
export function dedupKeys(prefix: string, stream: string, correlationId: string): DedupKeys {
  const tag = hashTagOf(stream);
  const base =
    tag === undefined
      ? `${prefix}{#rpc:${correlationId}}:`
      : `${prefix}{${tag}}#rpc:${correlationId}:`;
  return { record: `${base}record`, waiters: `${base}waiters` };
}
