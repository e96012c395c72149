/** The state of one dependency the instance needs to serve its whole cluster (Redis). */
export interface DependencyStatus {
  up: boolean;
  details?: Record<string, unknown>;
}

/** A dependency's readiness check, contributed by the backend module that uses it. */
export interface DependencyHealth {
  /** The key of its entry in the health answer (`redis`). */
  readonly name: string;
  check(): Promise<DependencyStatus>;
}

/** Injection token of the backend's dependency checks (an array: empty in memory). */
export const DEPENDENCY_HEALTH = Symbol('DependencyHealth');
