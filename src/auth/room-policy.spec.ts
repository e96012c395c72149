import type { AppConfig } from '../config/app-config';
import { configWith } from '../config/load-config';
import type { Principal } from '../protocol/principal';
import { RoomPatternSet } from './room-patterns';
import { RoomPolicy } from './room-policy';

const jwt: Partial<AppConfig> = { AUTH_MODE: 'jwt', JWT_SECRET: 'x'.repeat(32) };
const policy = (overrides: Partial<AppConfig> = {}): RoomPolicy =>
  new RoomPolicy(configWith({ ...jwt, ...overrides }));
const principal = (claims: Record<string, unknown> = {}, userId = 'alice'): Principal => ({
  userId,
  expiresAt: Date.now() + 60_000,
  claims,
});

describe('RoomPolicy', () => {
  describe('canEnter', () => {
    it('limits the user to the rooms of the rooms claim', () => {
      const rooms = policy();
      const user = principal({ rooms: ['team:42:*', 'workspace:7'] });
      expect(rooms.canEnter(user, 'team:42:general')).toBe(true);
      expect(rooms.canEnter(user, 'workspace:7')).toBe(true);
      expect(rooms.canEnter(user, 'team:43:general')).toBe(false);
      expect(rooms.canEnter(user, 'lobby')).toBe(false);
    });

    it("always allows the user's own room", () => {
      expect(policy().canEnter(principal({ rooms: [] }), 'alice')).toBe(true);
      expect(policy().canEnter(principal({ rooms: ['team:*'] }), 'alice')).toBe(true);
      expect(policy().canEnter(principal({ rooms: [] }), 'bob')).toBe(false);
    });

    it("lets a token without a rooms claim into no other user's own room by default", () => {
      expect(policy().canEnter(principal(), 'alice')).toBe(true);
      expect(policy().canEnter(principal(), 'bob')).toBe(false);
      expect(policy().canEnter(principal(), 'anything')).toBe(false);
      expect(policy().canEnter(principal({ rooms: ['*'] }), 'bob')).toBe(true);
    });

    it('applies AUTH_DEFAULT_ROOMS to a token without a rooms claim', () => {
      expect(policy({ AUTH_DEFAULT_ROOMS: '*' }).canEnter(principal(), 'anything')).toBe(true);
      const limited = policy({ AUTH_DEFAULT_ROOMS: 'public:*, lobby' });
      expect(limited.canEnter(principal(), 'public:news')).toBe(true);
      expect(limited.canEnter(principal(), 'lobby')).toBe(true);
      expect(limited.canEnter(principal(), 'team:1')).toBe(false);
      expect(limited.canEnter(principal({ rooms: ['team:1'] }), 'lobby')).toBe(false);
    });

    it('reads an all-comma AUTH_DEFAULT_ROOMS as no room but the own one', () => {
      const ownOnly = policy({ AUTH_DEFAULT_ROOMS: ',' });
      expect(ownOnly.canEnter(principal(), 'lobby')).toBe(false);
      expect(ownOnly.canEnter(principal(), 'alice')).toBe(true);
    });

    it('grants nothing beyond the own room for a malformed rooms claim', () => {
      expect(policy().canEnter(principal({ rooms: 'team:*' }), 'team:1')).toBe(false);
    });

    it('allows everything without a principal under AUTH_MODE=none, nothing under jwt', () => {
      expect(new RoomPolicy(configWith({})).canEnter(undefined, 'lobby')).toBe(true);
      expect(policy().canEnter(undefined, 'lobby')).toBe(false);
    });
  });

  describe('canPublish', () => {
    it('allows the rooms of the publish claim only', () => {
      const user = principal({ rooms: ['*'], publish: ['events:alice:*'] });
      expect(policy().canPublish(user, 'events:alice:build')).toBe(true);
      expect(policy().canPublish(user, 'events:bob:build')).toBe(false);
    });

    it('allows no room, not even the own one, without a publish claim', () => {
      expect(policy().canPublish(principal({ rooms: ['*'] }), 'lobby')).toBe(false);
      expect(policy().canPublish(principal(), 'alice')).toBe(false);
    });

    it('allows everything without a principal under AUTH_MODE=none, nothing under jwt', () => {
      expect(new RoomPolicy(configWith({})).canPublish(undefined, 'lobby')).toBe(true);
      expect(policy().canPublish(undefined, 'lobby')).toBe(false);
    });
  });

  it('compiles the patterns of a principal once, not per check', () => {
    const rooms = policy();
    const compile = jest.spyOn(RoomPatternSet, 'compile');
    const user = principal({ rooms: ['team:*'], publish: ['team:*'] });
    for (let i = 0; i < 100; i++) {
      expect(rooms.canEnter(user, `team:${i}`)).toBe(true);
      expect(rooms.canPublish(user, `team:${i}`)).toBe(true);
    }
    expect(compile).toHaveBeenCalledTimes(2);
    rooms.canEnter(principal({ rooms: ['team:*'] }), 'team:1');
    expect(compile).toHaveBeenCalledTimes(3);
    compile.mockRestore();
  });
});
