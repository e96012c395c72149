/**
 * The per-user connection count behind MAX_CONNECTIONS_PER_USER: in memory for one instance,
 * in Redis for the cluster (each instance counts its own connections there, and the count of an
 * instance that died is dropped when the membership layer reaps it).
 */
export interface UserConnections {
  /**
   * Counts connection `connectionId` of `userId` unless the user already holds `max`: true when
   * counted, false when refused. Acquiring the same connection twice counts it once.
   */
  acquire(userId: string, connectionId: string, max: number): Promise<boolean>;

  /** Forgets one connection of `userId`. Idempotent; a connection never acquired is ignored. */
  release(userId: string, connectionId: string): Promise<void>;

  /** The connections `userId` holds (cluster-wide for Redis). */
  count(userId: string): Promise<number>;
}

/** Injection token of the UserConnections port. */
export const UserConnections = Symbol('UserConnections');
