/**
 * Fetches data-set files on first use, never leaving a partial or corrupt file under its real name:
 * each download goes to a hidden temp file in the same folder (so the final rename is atomic),
 * is MD5-checked, and only then renamed. A broken transfer or a checksum mismatch removes the temp
 * file and retries a bounded number of times. A file placed by hand is checked the same way; a
 * small `.<name>.verified` stamp (size + mtime + MD5) spares re-hashing 170 MB on every run.
 * Where the host cannot be reached, the error says which files to put where, with their MD5s.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as cliProgress from 'cli-progress';
import { readFailure } from './readFile';

export interface RemoteFile {
  name: string;
  md5: string;
}

export interface DatasetFiles {
  /** Human name, for messages. */
  dataset: string;
  /** Local folder the files belong in. */
  dir: string;
  /** Official base URL; a file is fetched from `<baseUrl>/<name>`. */
  baseUrl: string;
  files: RemoteFile[];
}

export const CIFAR10_FILES: DatasetFiles = {
  dataset: 'CIFAR-10 (binary version)',
  dir: path.join('data', 'cifar10'),
  baseUrl: 'https://www.cs.toronto.edu/~kriz',
  files: [{ name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' }],
};

export const SVHN_FILES: DatasetFiles = {
  dataset: 'SVHN (format 2, cropped digits)',
  dir: path.join('data', 'svhn'),
  baseUrl: 'http://ufldl.stanford.edu/housenumbers',
  files: [
    { name: 'train_32x32.mat', md5: 'e26dedcc434d2e4c54c9b2d4a06d8373' },
    { name: 'test_32x32.mat', md5: 'eb5a983be6a315427106f1b164d9cef3' },
    { name: 'extra_32x32.mat', md5: 'a93ce644f1a588dc4d68dda5feec44a7' },
  ],
};

export interface DownloadOptions {
  /** Base URL serving the files instead of the official host (default: env `BNN_DATA_MIRROR`). */
  mirror?: string;
  /** Attempts per file for broken transfers, checksum mismatches and 5xx answers (default 3). */
  attempts?: number;
  /** Wait before the first retry, doubled after each (default 2000 ms). */
  retryDelayMs?: number;
  /** Give up on a server that has not answered within this time (default 30 s): offline. */
  connectTimeoutMs?: number;
  /** Abort a transfer that received nothing for this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  log?: (line: string) => void;
}

/** The network is not there: nothing was received from the host. */
export class OfflineError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OfflineError';
  }
}

/** A failed attempt; `retry` says whether another attempt may succeed. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

// Error codes meaning "no route to the host", as opposed to a transfer that went wrong.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'EPERM',
  'EACCES',
]);

export async function md5File(file: string): Promise<string> {
  const hash = crypto.createHash('md5');
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } catch (err) {
    throw new Error(`${file}: ${readFailure(err)}`, { cause: err });
  }
  return hash.digest('hex');
}

function stampPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.verified`);
}

interface Stamp {
  size: number;
  mtimeMs: number;
  md5: string;
}

function writeStamp(file: string, md5: string): void {
  const st = fs.statSync(file);
  const stamp: Stamp = { size: st.size, mtimeMs: st.mtimeMs, md5 };
  fs.writeFileSync(stampPath(file), JSON.stringify(stamp) + '\n');
}

/**
 * Whether `file` has MD5 `md5`. A stamp left by an earlier check answers without hashing while
 * the file's size and mtime are unchanged.
 */
export async function verifyFile(file: string, md5: string): Promise<{ ok: boolean; actual: string; cached: boolean }> {
  const st = fs.statSync(file);
  try {
    const stamp = JSON.parse(fs.readFileSync(stampPath(file), 'utf8')) as Stamp;
    if (stamp.size === st.size && stamp.mtimeMs === st.mtimeMs && stamp.md5 === md5) {
      return { ok: true, actual: md5, cached: true };
    }
  } catch {
    // No stamp, or an unreadable one: hash the file.
  }
  const actual = await md5File(file);
  if (actual === md5) writeStamp(file, md5);
  return { ok: actual === md5, actual, cached: false };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function fileUrl(spec: DatasetFiles, file: RemoteFile, opts: DownloadOptions): string {
  const base = opts.mirror ?? process.env.BNN_DATA_MIRROR ?? spec.baseUrl;
  return `${base.replace(/\/+$/, '')}/${file.name}`;
}

/** Removes temp files of earlier runs that died mid-transfer (untouched for an hour). */
function removeStaleTemps(dir: string, name: string): void {
  const prefix = `.${name}.`;
  for (const entry of fs.readdirSync(dir)) {
    if (!entry.startsWith(prefix) || !entry.endsWith('.part')) continue;
    const p = path.join(dir, entry);
    if (Date.now() - fs.statSync(p).mtimeMs > 3600_000) fs.rmSync(p, { force: true });
  }
}

/** One download attempt of `url` into `dest`, via a temp file; throws AttemptError or OfflineError. */
async function attempt(url: string, dest: string, md5: string, opts: DownloadOptions): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.part`);
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), opts.connectTimeoutMs ?? 30_000);
  let bar: cliProgress.SingleBar | null = null;
  let res: Response;
  try {
    res = await fetch(url, { signal: controller.signal, redirect: 'follow' });
  } catch (err) {
    clearTimeout(timer);
    const cause = (err as { cause?: { code?: string } }).cause;
    const code = controller.signal.aborted ? 'timed out' : (cause?.code ?? (err as Error).message);
    if (controller.signal.aborted || UNREACHABLE.has(cause?.code ?? '')) {
      throw new OfflineError(`${url} is unreachable (${code})`);
    }
    throw new AttemptError(`${url}: request failed (${code})`, true);
  }
  clearTimeout(timer);
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new AttemptError(`${url}: HTTP ${res.status} ${res.statusText}`, res.status >= 500 || res.status === 429);
  }

  const lengthHeader = res.headers.get('content-length');
  const expected = lengthHeader === null ? null : Number(lengthHeader);
  const hash = crypto.createHash('md5');
  let received = 0;
  const started = Date.now();
  const fh = await fs.promises.open(tmp, 'w');
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  try {
    if (opts.progress ?? process.stderr.isTTY) {
      bar = new cliProgress.SingleBar(
        {
          format: expected
            ? `${path.basename(dest)} [{bar}] {percentage}% | {got} / {size} | {speed}/s | ETA {eta_formatted}`
            : `${path.basename(dest)} {got} | {speed}/s`,
          stream: process.stderr,
          etaBuffer: 50,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(expected ?? 0, 0, { got: formatBytes(0), size: formatBytes(expected ?? 0), speed: formatBytes(0) });
    }
    timer = setTimeout(() => controller.abort(), idleMs);
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        timer.refresh();
        hash.update(chunk);
        received += chunk.length;
        await fh.write(chunk);
        bar?.update(received, {
          got: formatBytes(received),
          speed: formatBytes(Math.round((received * 1000) / Math.max(1, Date.now() - started))),
        });
      }
    } catch (err) {
      const why = controller.signal.aborted ? `no data for ${idleMs / 1000} s` : (err as Error).message;
      throw new AttemptError(`${url}: transfer interrupted after ${formatBytes(received)} (${why})`, true);
    } finally {
      clearTimeout(timer);
    }
    if (expected !== null && received !== expected) {
      throw new AttemptError(`${url}: transfer interrupted: ${received} of ${expected} bytes received`, true);
    }
    const actual = hash.digest('hex');
    if (actual !== md5) {
      throw new AttemptError(`${url}: checksum mismatch: MD5 ${actual}, expected ${md5}`, true);
    }
    await fh.sync();
    await fh.close();
    fs.renameSync(tmp, dest);
    writeStamp(dest, md5);
  } catch (err) {
    await fh.close().catch(() => {});
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    bar?.stop();
  }
}

function manualInstructions(spec: DatasetFiles, files: RemoteFile[], opts: DownloadOptions): string {
  const dir = path.resolve(spec.dir);
  const lines = files.map((f) => `  ${f.name}  MD5 ${f.md5}  from ${fileUrl(spec, f, opts)}`);
  return (
    `Put these ${spec.dataset} files in ${dir}${path.sep} by hand, then run again:\n` +
    `${lines.join('\n')}\n` +
    `(or set BNN_DATA_MIRROR to a base URL that serves them).`
  );
}

/**
 * Makes sure every file of `spec` is present in `spec.dir` with the right MD5, downloading the
 * missing ones. Throws OfflineError (with instructions) when the host cannot be reached, and an
 * Error naming the file when a present copy is corrupt or all attempts failed.
 */
export async function ensureFiles(spec: DatasetFiles, opts: DownloadOptions = {}): Promise<void> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  fs.mkdirSync(spec.dir, { recursive: true });
  const missing: RemoteFile[] = [];
  for (const f of spec.files) {
    const file = path.join(spec.dir, f.name);
    if (!fs.existsSync(file)) {
      missing.push(f);
      continue;
    }
    const check = await verifyFile(file, f.md5);
    if (!check.ok) {
      throw new Error(
        `${file}: MD5 ${check.actual}, expected ${f.md5}: the file is corrupt or incomplete. ` +
          `Delete it to download it again, or replace it with a good copy.`,
      );
    }
  }
  const attempts = Math.max(1, opts.attempts ?? 3);
  for (const f of missing) {
    const dest = path.join(spec.dir, f.name);
    const url = fileUrl(spec, f, opts);
    removeStaleTemps(spec.dir, f.name);
    let delay = opts.retryDelayMs ?? 2000;
    for (let k = 1; ; k++) {
      log(`downloading ${url} → ${dest}${k > 1 ? ` (attempt ${k} of ${attempts})` : ''}`);
      try {
        await attempt(url, dest, f.md5, opts);
        break;
      } catch (err) {
        if (err instanceof OfflineError) {
          const left = missing.slice(missing.indexOf(f));
          throw new OfflineError(
            `Cannot download ${spec.dataset}: ${err.message}.\n${manualInstructions(spec, left, opts)}`,
          );
        }
        const retry = err instanceof AttemptError && err.retry && k < attempts;
        log(`  ${(err as Error).message}${retry ? '; retrying' : ''}`);
        if (!retry)
          throw new Error(`${dest}: download failed after ${k} attempt(s): ${(err as Error).message}`, { cause: err });
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }
}
