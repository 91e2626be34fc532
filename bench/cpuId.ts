/** The CPU's family and model numbers (lscpu), which tell Zen 4 (family 25) from Zen 5 (26). */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface CpuId {
  modelName: string;
  family: string;
  model: string;
}

/** "key: value" lines (lscpu, /proc/cpuinfo) as a map; the first occurrence of a key wins. */
function fields(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !map.has(line.slice(0, i).trim())) map.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return map;
}

export function cpuId(): CpuId {
  const fallback = os.cpus()[0]?.model.trim() ?? 'unknown';
  try {
    const f = fields(execFileSync('lscpu', { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }));
    return {
      modelName: f.get('Model name') ?? fallback,
      family: f.get('CPU family') ?? '?',
      model: f.get('Model') ?? '?',
    };
  } catch {
    // no lscpu: /proc/cpuinfo has the same numbers on Linux
  }
  try {
    const f = fields(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return { modelName: fallback, family: f.get('cpu family') ?? '?', model: f.get('model') ?? '?' };
  } catch {
    return { modelName: fallback, family: '?', model: '?' };
  }
}

/** "AMD EPYC (family 26, model 2), 2 CPUs" */
export function describeCpu(id: CpuId = cpuId()): string {
  return `${id.modelName} (family ${id.family}, model ${id.model}), ${os.cpus().length} CPUs`;
}
