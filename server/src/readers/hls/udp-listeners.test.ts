import { describe, expect, it } from 'vitest';
import { parseProcNetUdp } from './udp-listeners.js';

describe('parseProcNetUdp', () => {
  it('reads the local port of every socket line', () => {
    const text = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  120: 00000000:4E20 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41231 2 0000000000000000 0',
      '  121: 0100007F:4E22 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41232 2 0000000000000000 0',
      '',
    ].join('\n');
    expect([...parseProcNetUdp(text)]).toEqual([20000, 20002]);
  });

  it('returns nothing for an empty table', () => {
    expect(parseProcNetUdp('  sl  local_address\n').size).toBe(0);
  });
});
