/**
 * Whether a hardware GPU can exist here, without asking Dawn: on Linux a GPU driver exposes a device
 * node (/dev/dri/renderD* for Mesa's and AMD's and Intel's drivers and NVIDIA's open ones, /dev/nvidia*
 * for NVIDIA's, /dev/dxg for WSL's GPU paravirtualisation). Where none exists, the only adapter Dawn can
 * find is a software one (lavapipe, SwiftShader), which the automatic backend choice never takes: so it
 * skips the probe (about half a second per process, and the driver's warnings). Other systems are probed.
 */
import * as fs from 'node:fs';

export interface DeviceProbe {
  platform: NodeJS.Platform;
  /** The names in a folder; [] when it does not exist. */
  list(dir: string): string[];
}

const HOST: DeviceProbe = {
  platform: process.platform,
  list(dir) {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  },
};

/** The GPU device nodes found (full paths); null where this cannot be told (not Linux). */
export function gpuDeviceNodes(host: DeviceProbe = HOST): string[] | null {
  if (host.platform !== 'linux') return null;
  const dri = host.list('/dev/dri').filter((n) => n.startsWith('renderD'));
  const dev = host.list('/dev').filter((n) => n.startsWith('nvidia') || n === 'dxg');
  return [...dri.map((n) => `/dev/dri/${n}`), ...dev.map((n) => `/dev/${n}`)];
}

/** Why no hardware GPU can be here (Linux without a GPU device node), or null (there may be one: probe). */
export function noHardwareGpu(host: DeviceProbe = HOST): string | null {
  const nodes = gpuDeviceNodes(host);
  if (nodes === null || nodes.length > 0) return null;
  return 'no GPU device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg): no hardware adapter, Dawn not probed';
}
