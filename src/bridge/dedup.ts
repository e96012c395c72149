/**
 * The deduplication record of one correlation id, cluster-wide: a string key that lives
 * RPC_DEDUP_WINDOW_MS. `i<entry id>` while an entry runs it (taken with SET NX), `d<reply>` once
 * its reply is stored (in the MULTI that acknowledges the entry).
 */
export type DedupState =
  | { readonly state: 'free' }
  | { readonly state: 'running'; readonly entryId: string }
  | { readonly state: 'done'; readonly reply: string };

/**
 * The key of a correlation id: `<prefix>{#rpc:<id>}:reply`, beside the other keys of the layout
 * (ids are bounded to 200 characters by the request's validation).
 */
export function dedupKey(prefix: string, correlationId: string): string {
  return `${prefix}{#rpc:${correlationId}}:reply`;
}

export function readDedup(value: string | null): DedupState {
  if (value === null) return { state: 'free' };
  if (value.startsWith('d')) return { state: 'done', reply: value.slice(1) };
  return { state: 'running', entryId: value.slice(1) };
}
