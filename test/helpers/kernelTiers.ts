/**
 * Every XNOR kernel tier, loaded or with the reason it is unavailable here, so that a test file
 * writes one `describe.skipIf` per tier and a tier that did not load shows as a skipped test (which
 * CI refuses) instead of silently dropping out of a loop.
 */
import { KERNEL_TIERS, tryKernel, type KernelTier, type XnorKernel } from '../../lib/kernels';
import { cpuFeature } from './requireAllTests';

export interface TierCase {
  tier: KernelTier;
  kernel: XnorKernel | null;
  /** "native tier", or "native tier (unavailable: why)". */
  title: string;
}

export const kernelTiers: TierCase[] = KERNEL_TIERS.map((tier) => {
  const kernel = tryKernel(tier);
  return typeof kernel === 'string'
    ? { tier, kernel: null, title: `${tier} tier (unavailable: ${kernel})` }
    : { tier, kernel, title: `${tier} tier` };
});

/** The native addon's instruction sets on this CPU architecture, best first (native/addon.cc's detect_isas). */
const NATIVE_ISAS: Record<string, string[]> = {
  x64: ['avx512-vpopcntdq', 'avx2', 'popcnt', 'scalar'],
  arm64: ['neon', 'scalar'],
};

/**
 * The instruction sets the native addon may dispatch to on this architecture, each with its test-name
 * tag: every one but 'scalar' depends on the CPU, so a CPU without it skips with a tag CI accepts.
 */
export function nativeIsas(): { isa: string; tag: string }[] {
  return (NATIVE_ISAS[process.arch] ?? ['scalar']).map((isa) => ({
    isa,
    tag: isa === 'scalar' ? '' : ` ${cpuFeature(isa)}`,
  }));
}
