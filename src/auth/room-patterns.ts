import { ROOM_PATTERN } from '../protocol/ids';

/** True for a claim value that is a list of valid room patterns (the empty list included). */
export function isPatternList(value: unknown): value is string[] {
  return (
    Array.isArray(value) &&
    value.every((entry) => typeof entry === 'string' && ROOM_PATTERN.test(entry))
  );
}

/** A pattern with at least one `*`, cut at its stars: `team:*:docs*` → `team:`, [`:docs`], ``. */
interface Glob {
  prefix: string;
  middle: string[];
  suffix: string;
  minLength: number;
}

/**
 * A compiled list of room patterns, where `*` matches any run of characters and every other
 * character only itself. Matching uses no regular expression, so no pattern can make it
 * backtrack: a check costs at most the room id's length per pattern (`String.indexOf` per
 * segment, segments matched leftmost in order, which is exact for `*`-only globs).
 */
export class RoomPatternSet {
  static readonly EMPTY = new RoomPatternSet([]);

  static compile(patterns: readonly string[]): RoomPatternSet {
    return new RoomPatternSet(patterns);
  }

  private readonly exact = new Set<string>();
  private readonly globs: Glob[] = [];
  private readonly matchesAll: boolean;

  private constructor(patterns: readonly string[]) {
    for (const pattern of patterns) {
      if (!pattern.includes('*')) {
        this.exact.add(pattern);
        continue;
      }
      const parts = pattern.split('*');
      const prefix = parts[0];
      const suffix = parts[parts.length - 1];
      const middle = parts.slice(1, -1).filter((part) => part !== '');
      const minLength = parts.reduce((sum, part) => sum + part.length, 0);
      this.globs.push({ prefix, middle, suffix, minLength });
    }
    this.matchesAll = this.globs.some((glob) => glob.minLength === 0);
  }

  matches(roomId: string): boolean {
    if (this.matchesAll || this.exact.has(roomId)) return true;
    return this.globs.some((glob) => matchesGlob(glob, roomId));
  }
}

function matchesGlob(glob: Glob, text: string): boolean {
  if (text.length < glob.minLength) return false;
  if (!text.startsWith(glob.prefix) || !text.endsWith(glob.suffix)) return false;
  const end = text.length - glob.suffix.length;
  let at = glob.prefix.length;
  for (const part of glob.middle) {
    const found = text.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}
