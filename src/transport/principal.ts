/**
 * Who a session acts for once verified (token at the upgrade or by first frame). Empty until the
 * identity issue fills it; the transport only carries it.
 */
export interface Principal {
  userId: string;
  /** Epoch ms after which the credentials no longer hold; the session is closed then. */
  expiresAt?: number;
  claims: Readonly<Record<string, unknown>>;
}
