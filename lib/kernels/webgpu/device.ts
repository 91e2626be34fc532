/// <reference types="@webgpu/types" />
/**
 * A small wrapper around a WebGPU device for the XNOR kernels: buffers, the compiled pipelines, one-dimensional
 * dispatches, asynchronous reads, and errors that surface as exceptions. Nothing here needs Node: in a browser pass
 * `navigator.gpu`, in Node the `webgpu` package's (node.ts).
 */
import {
  epilogueShader,
  floatGemmShader,
  gatherShader,
  xnorGemmShader,
  EPILOGUE_PARAMS,
  FLOAT_GEMM_PARAMS,
  GATHER_PARAMS,
  GEMM_PARAMS,
} from './shaders';

/** Buffer usage and map mode flags (GPUBufferUsage and GPUMapMode are globals only in browsers). */
export const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_MODE_READ = 0x1;
const STORAGE = USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC;

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU emulation (llvmpipe/lavapipe, SwiftShader, WARP): right for tests, not for speed. */
  software: boolean;
  /** One line for logs and results, e.g. 'llvmpipe: Mesa 25.0.7 … (software adapter)'. */
  label: string;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|basic render|\bwarp\b/i;

/** GPUAdapterInfo's fields (typed here: older @webgpu/types have `requestAdapterInfo()` instead of `info`). */
export interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** Whether an adapter is a software renderer (a CPU emulation, or Dawn's fallback adapter), from its info. */
export function isSoftwareAdapter(info: AdapterInfo): boolean {
  if (info.isFallbackAdapter) return true;
  return SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info: AdapterInfo = (adapter as { info?: AdapterInfo }).info ?? {};
  const vendor = info.vendor ?? '',
    architecture = info.architecture ?? '',
    device = info.device ?? '',
    description = info.description ?? '';
  const software = isSoftwareAdapter(info);
  const name = description || [vendor, architecture, device].filter(Boolean).join(' ') || 'unnamed adapter';
  return {
    vendor,
    architecture,
    device,
    description,
    software,
    label: `${name} (${software ? 'software' : 'hardware'} adapter)`,
  };
}

/** The shaders' pipelines, compiled once per device. */
export interface Pipelines {
  xnorGemm: GPUComputePipeline;
  xnorPlanesGemm: GPUComputePipeline;
  floatGemm: GPUComputePipeline;
  gather: GPUComputePipeline;
  epilogue: GPUComputePipeline;
}

export type ParamNames = readonly string[];
export const PARAMS = {
  gemm: GEMM_PARAMS,
  floatGemm: FLOAT_GEMM_PARAMS,
  gather: GATHER_PARAMS,
  epilogue: EPILOGUE_PARAMS,
} as const;

export class GpuContext {
  /** The first error the device reported (validation, out of memory, loss) and not yet thrown. */
  private error: Error | null = null;
  private lost = false;

  private constructor(
    /** Kept referenced: dawn.node (webgpu 0.6) crashes when a device's adapter or GPU object is collected. */
    private readonly keepAlive: unknown[],
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    readonly pipelines: Pipelines,
  ) {
    device.addEventListener('uncapturederror', (event) => {
      this.error ??= new Error(`WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
    });
    void device.lost.then((info) => {
      this.lost = true;
      if (info.reason !== 'destroyed') this.error ??= new Error(`the WebGPU device was lost: ${info.message}`);
    });
  }

  /** A device on `gpu`'s adapter with the adapter's largest buffers, and the shaders compiled (errors reject). */
  static async create(gpu: GPU, powerPreference: GPUPowerPreference = 'high-performance'): Promise<GpuContext> {
    const adapter = await gpu.requestAdapter({ powerPreference });
    if (!adapter) throw new Error('WebGPU has no adapter here');
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      },
    });
    const compile = (code: string, label: string) =>
      device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module: device.createShaderModule({ code, label }), entryPoint: 'main' },
      });
    // One at a time: Dawn on lavapipe has crashed compiling several at once.
    const pipelines: Pipelines = {
      xnorGemm: await compile(xnorGemmShader(false), 'xnor gemm'),
      xnorPlanesGemm: await compile(xnorGemmShader(true), 'xnor gemm on bit planes'),
      floatGemm: await compile(floatGemmShader, 'float gemm (baseline)'),
      gather: await compile(gatherShader, 'gather'),
      epilogue: await compile(epilogueShader, 'epilogue'),
    };
    return new GpuContext([gpu, adapter], device, describeAdapter(adapter), pipelines);
  }

  get maxBindingBytes(): number {
    return Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
  }

  /** A storage buffer of `bytes` (at least 4, rounded up to 4), or holding `data`. */
  storage(bytesOrData: number | ArrayBufferView, label?: string): GPUBuffer {
    const data = typeof bytesOrData === 'number' ? null : bytesOrData;
    const bytes = data ? data.byteLength : (bytesOrData as number);
    if (bytes > this.maxBindingBytes)
      throw new RangeError(
        `${label ?? 'a buffer'} needs ${bytes} bytes, more than this adapter binds (${this.maxBindingBytes})`,
      );
    const buffer = this.device.createBuffer({ label, size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: STORAGE });
    if (data) this.write(buffer, data);
    return buffer;
  }

  /** Writes `data` at the buffer's start (padded to whole words, as writeBuffer requires). */
  write(buffer: GPUBuffer, data: ArrayBufferView): void {
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      bytes = padded;
    }
    this.device.queue.writeBuffer(buffer, 0, bytes);
  }

  /** A uniform buffer for a shader's parameters (`names`, all u32), with `values` written. */
  uniform(names: ParamNames, values: Record<string, number>, label?: string): GPUBuffer {
    const buffer = this.device.createBuffer({
      label,
      size: Math.ceil((names.length * 4) / 16) * 16,
      usage: USAGE.UNIFORM | USAGE.COPY_DST,
    });
    this.setUniform(buffer, names, values);
    return buffer;
  }

  setUniform(buffer: GPUBuffer, names: ParamNames, values: Record<string, number>): void {
    const words = new Uint32Array(buffer.size / 4);
    names.forEach((name, i) => {
      const v = values[name] ?? 0;
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`shader parameter ${name} = ${v}`);
      words[i] = v;
    });
    this.device.queue.writeBuffer(buffer, 0, words);
  }

  bindGroup(pipeline: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /** Encodes `count` invocations of a 64-wide one-dimensional shader (spread over x and y past 65,535 groups). */
  dispatchLinear(pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, group: GPUBindGroup, count: number): void {
    const groups = Math.ceil(count / 64);
    if (groups === 0) return;
    const x = Math.min(groups, this.device.limits.maxComputeWorkgroupsPerDimension);
    this.dispatch(pass, pipeline, group, x, Math.ceil(groups / x));
  }

  dispatch(pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, group: GPUBindGroup, x: number, y = 1): void {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max) throw new RangeError(`a dispatch of ${x} × ${y} workgroups is more than ${max} per side`);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y);
  }

  /** Submits `encode`'s commands, and copies `read` (bytes from the start of a buffer) back when given. */
  async submit(encode: (pass: GPUComputePassEncoder) => void, read?: { buffer: GPUBuffer; bytes: number }) {
    this.throwIfFailed();
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    encode(pass);
    pass.end();
    let staging: GPUBuffer | null = null;
    if (read) {
      const size = Math.max(4, Math.ceil(read.bytes / 4) * 4);
      staging = this.device.createBuffer({ size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
      encoder.copyBufferToBuffer(read.buffer, 0, staging, 0, size);
    }
    this.device.queue.submit([encoder.finish()]);
    try {
      if (!staging) {
        await this.device.queue.onSubmittedWorkDone();
        this.throwIfFailed();
        return null;
      }
      await staging.mapAsync(MAP_MODE_READ);
      this.throwIfFailed();
      return staging.getMappedRange().slice(0, read!.bytes);
    } catch (err) {
      this.throwIfFailed();
      throw err;
    } finally {
      staging?.destroy();
    }
  }

  /** Throws the device's pending error, if any. */
  throwIfFailed(): void {
    const error = this.error;
    if (error) {
      this.error = null;
      throw error;
    }
    if (this.lost) throw new Error('the WebGPU device was destroyed');
  }

  destroy(): void {
    this.device.destroy();
  }
}
