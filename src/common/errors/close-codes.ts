/**
 * WebSocket close codes the server uses. Failures not listed here answer an error frame and keep
 * the connection open. The README's close-code table says which ones a client should retry.
 */
export const CloseCode = {
  /** Inbound message larger than MAX_PAYLOAD_BYTES (sent by `ws` itself). Do not resend it. */
  MessageTooBig: 1009,
  /** The server is restarting or draining; reconnect with jittered backoff. */
  ServiceRestart: 1012,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
