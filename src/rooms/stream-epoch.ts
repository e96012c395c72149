import { randomBytes } from 'node:crypto';

/** A new epoch: 8 random URL-safe characters (48 bits), unique enough to tell streams apart. */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/** How long a room's position (offset and epoch) outlives its newest publication. */
export const POSITION_TTL_MS = 24 * 60 * 60 * 1000;
