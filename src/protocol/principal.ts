/**
 * Who a connection is, once its token is verified. The transport's per-connection session carries
 * it from the upgrade (or the first frame) on; a refresh replaces it as a whole.
 */
export interface Principal {
  /** The token's `sub`, or its `user_id` when it has no `sub`; matches ID_PATTERN. */
  readonly userId: string;
  /** The token's `exp` in milliseconds since the epoch; absent only without a token (AUTH_MODE=none). */
  readonly expiresAt?: number;
  /** Every claim of the verified token, deeply frozen (`rooms`, `publish`, and the issuer's own). */
  readonly claims: Readonly<Record<string, unknown>>;
}
