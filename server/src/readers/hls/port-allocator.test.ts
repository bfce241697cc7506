import { describe, expect, it } from 'vitest';
import { PortAllocator, udpPortProbe } from './port-allocator.js';
import dgram from 'node:dgram';

const allFree = async () => true;

describe('PortAllocator', () => {
  it('hands out even-aligned blocks and never the same port twice', async () => {
    const ports = new PortAllocator(20001, 20020, allFree);
    const a = await ports.allocate(4);
    const b = await ports.allocate(4);
    expect(a % 2).toBe(0);
    expect(a).toBe(20002);
    expect(b).toBe(20006);
    expect(ports.allocated).toBe(8);
  });

  it('walks round-robin so a released block is not reused at once', async () => {
    const ports = new PortAllocator(20000, 20011, allFree); // three blocks of four
    const a = await ports.allocate(4);
    ports.release(a, 4);
    expect(await ports.allocate(4)).toBe(20004);
    expect(await ports.allocate(4)).toBe(20008);
    expect(await ports.allocate(4)).toBe(20000); // wrapped around to the released one
  });

  it('skips blocks where another process holds a port', async () => {
    const taken = new Set([20001]);
    const ports = new PortAllocator(20000, 20011, async (p) => !taken.has(p));
    expect(await ports.allocate(4)).toBe(20004);
    expect(ports.allocated).toBe(4); // the rejected block was not kept
  });

  it('fails clearly when the range is exhausted, and recovers after a release', async () => {
    const ports = new PortAllocator(20000, 20007, allFree);
    const a = await ports.allocate(4);
    await ports.allocate(4);
    await expect(ports.allocate(4)).rejects.toThrow(/no free UDP ports left in 20000-20007/);
    ports.release(a, 4);
    expect(await ports.allocate(4)).toBe(a);
  });

  it('starting anywhere in the range, still finds the last free block', async () => {
    const ports = new PortAllocator(20000, 20011, allFree, 20006); // three blocks of four, start off the grid
    const got = [await ports.allocate(4), await ports.allocate(4)];
    expect(got).toEqual([20006, 20000]);
    // Free now: 20004–20005 and 20010–20011, no four in a row.
    await expect(ports.allocate(4)).rejects.toThrow(/no free UDP ports/);
    ports.release(20006, 4);
    expect(await ports.allocate(4)).toBe(20004);
  });

  it('rejects odd block sizes and ranges too small for one block', async () => {
    await expect(new PortAllocator(20000, 20010, allFree).allocate(3)).rejects.toThrow(/even/);
    await expect(new PortAllocator(20000, 20002, allFree).allocate(4)).rejects.toThrow(/smaller than 4/);
  });

  it('probes real sockets: a bound port is reported busy', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const { port } = socket.address();
    const probe = udpPortProbe('127.0.0.1');
    expect(await probe(port)).toBe(false);
    await new Promise<void>((r) => socket.close(() => r()));
    expect(await probe(port)).toBe(true);
  });
});
