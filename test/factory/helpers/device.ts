import type { Duplex } from 'node:stream';
import { DeviceAgent } from '../../../src/device/agent.ts';
import { SimulatedDevice } from '../../../src/device/simulator.ts';
import { LinkServer } from '../../../src/factory/link/server.ts';

/** Serves a simulated device's agent on a stream (its factory port). */
export function serveDevice(device: SimulatedDevice, stream: Duplex): LinkServer {
  return new LinkServer(stream, new DeviceAgent(device).handle);
}

/** An in-memory simulated device. */
export function memoryDevice(model = 'sensor-1', serial?: string): SimulatedDevice {
  return SimulatedDevice.create(undefined, { model, ...(serial === undefined ? {} : { serial }) });
}
