import type { Server } from 'node:net';
import { LinkServer } from '../factory/link/server.ts';
import { listenTcp } from '../factory/link/transport.ts';
import { DeviceAgent } from './agent.ts';
import type { SimulatedDevice } from './simulator.ts';

/**
 * A simulated production fixture over TCP: each connection is wired to the next device in turn
 * (wrapping around), as if the operator put the next board on the jig.
 */
export async function serveLine(
  devices: readonly SimulatedDevice[],
  port = 0,
  host = '127.0.0.1',
): Promise<{ server: Server; port: number }> {
  const agents = devices.map((d) => new DeviceAgent(d));
  let cursor = 0;
  return listenTcp(
    port,
    (socket) => {
      const agent = agents[cursor++ % agents.length];
      if (agent === undefined) socket.destroy();
      else new LinkServer(socket, agent.handle);
    },
    host,
  );
}
