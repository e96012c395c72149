/**
 * The Redis Cluster hash slot of `key` (CRC16/XMODEM of the key's UTF-8 bytes, or of its hash tag:
 * the text between the first `{` and the next `}` when not empty, modulo 16,384), as CLUSTER
 * KEYSLOT answers it: which shard owns a room's channel.
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf('{');
  if (open !== -1) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % 16_384;
}
