import { AppConfig } from '../config/app-config';
import { defaultRoomPatterns } from '../config/jwt-settings';
import type { Principal } from '../protocol/principal';
import { isPatternList, RoomPatternSet } from './room-patterns';

interface Grants {
  enter: RoomPatternSet;
  publish: RoomPatternSet;
}

/**
 * Which rooms a principal may enter (join, switch to, ask presence of) and publish into. Its
 * token's `rooms` and `publish` claims are compiled once per principal, on the first check, and
 * forgotten with the principal (a refresh brings a new principal and so new grants).
 *
 * Without a principal (a connection under AUTH_MODE=none) everything is allowed, as before
 * authentication existed; under AUTH_MODE=jwt a missing principal is refused, never waved through.
 */
export class RoomPolicy {
  private readonly defaultRooms: RoomPatternSet;
  private readonly grants = new WeakMap<Principal, Grants>();

  constructor(private readonly config: AppConfig) {
    this.defaultRooms = RoomPatternSet.compile(defaultRoomPatterns(config));
  }

  /**
   * The user's own room (`roomId` equal to `userId`) always; otherwise a room matched by the
   * `rooms` claim, or by AUTH_DEFAULT_ROOMS when the token has no such claim.
   */
  canEnter(principal: Principal | undefined, roomId: string): boolean {
    if (!principal) return this.config.AUTH_MODE === 'none';
    if (roomId === principal.userId) return true;
    return this.grantsOf(principal).enter.matches(roomId);
  }

  /** A room matched by the `publish` claim; without the claim, none (publishing is opt-in). */
  canPublish(principal: Principal | undefined, roomId: string): boolean {
    if (!principal) return this.config.AUTH_MODE === 'none';
    return this.grantsOf(principal).publish.matches(roomId);
  }

  private grantsOf(principal: Principal): Grants {
    let grants = this.grants.get(principal);
    if (!grants) {
      const { rooms, publish } = principal.claims;
      grants = {
        enter: rooms === undefined ? this.defaultRooms : compile(rooms),
        publish: publish === undefined ? RoomPatternSet.EMPTY : compile(publish),
      };
      this.grants.set(principal, grants);
    }
    return grants;
  }
}

/** TokenVerifier refuses malformed claims; one that slipped through grants nothing. */
function compile(claim: unknown): RoomPatternSet {
  return isPatternList(claim) ? RoomPatternSet.compile(claim) : RoomPatternSet.EMPTY;
}
