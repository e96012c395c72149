import type { UserConnections } from './user-connections';

/** UserConnections of a single instance: a set of connection ids per user. */
export class InMemoryUserConnections implements UserConnections {
  private readonly byUser = new Map<string, Set<string>>();

  acquire(userId: string, connectionId: string, max: number): Promise<boolean> {
    const held = this.byUser.get(userId) ?? new Set<string>();
    if (!held.has(connectionId)) {
      if (held.size >= max) return Promise.resolve(false);
      held.add(connectionId);
      this.byUser.set(userId, held);
    }
    return Promise.resolve(true);
  }

  release(userId: string, connectionId: string): Promise<void> {
    const held = this.byUser.get(userId);
    if (held?.delete(connectionId) && held.size === 0) this.byUser.delete(userId);
    return Promise.resolve();
  }

  count(userId: string): Promise<number> {
    return Promise.resolve(this.byUser.get(userId)?.size ?? 0);
  }
}
