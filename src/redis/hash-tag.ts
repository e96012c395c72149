/**
 * The hash tag of a Redis key, as Redis Cluster reads it: the text between the first `{` and the
 * first `}` after it, when not empty. Keys with the same tag share a slot; undefined: the whole
 * name is hashed.
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}
