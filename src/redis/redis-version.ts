/**
 * The oldest Redis the server runs on, the one it is tested against: the bridge claims with
 * `XAUTOCLAIM` (Redis 6.2) and its health figures read the group's `lag` (`XINFO GROUPS`, 7.0).
 */
export const MIN_REDIS_VERSION = '7.0.0';

/** The `redis_version` of an `INFO server` answer, or undefined when it has none. */
export function redisVersionOf(info: string): string | undefined {
  return /^redis_version:([^\r\n]+)/m.exec(info)?.[1]?.trim();
}

/**
 * Why `version` cannot serve, or undefined when it can (or does not say: a proxy that hides the
 * version is given the benefit of the doubt).
 */
export function redisVersionProblem(version: string | undefined): string | undefined {
  if (version === undefined) return undefined;
  const parts = parse(version);
  if (parts === undefined || compare(parts, parse(MIN_REDIS_VERSION) ?? []) >= 0) return undefined;
  return (
    `Redis ${version} is too old: this server needs Redis 7.0 or later (it is tested against 7.0; ` +
    `the bridge uses XAUTOCLAIM, new in 6.2, and XINFO GROUPS' lag, new in 7.0); upgrade the ` +
    `Redis at REDIS_URL`
  );
}

function parse(version: string): number[] | undefined {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}
