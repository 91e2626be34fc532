/**
 * Verified downloads against a local HTTP server on 127.0.0.1: success, a transfer cut mid-way
 * (retried), a checksum mismatch, an HTTP error, connection refused (the offline message), and
 * copies placed by hand (good, cached, corrupt).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCifar10 } from '../lib/data/cifar10';
import { DatasetFiles, OfflineError, ensureFiles, verifyFile } from '../lib/data/download';
import { loadSvhn } from '../lib/data/svhn';

const body = crypto.randomBytes(300_000);
const md5 = crypto.createHash('md5').update(body).digest('hex');
const requests: Record<string, number> = {};

let server: http.Server;
let base: string;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-dl-'));
  server = http.createServer((req, res) => {
    const name = path.basename(req.url ?? '');
    requests[name] = (requests[name] ?? 0) + 1;
    const cut = name === 'cut.bin' || (name === 'flaky.bin' && requests[name] === 1);
    if (name === 'missing.bin') {
      res.writeHead(404).end('not found');
    } else if (cut) {
      // Announce the whole file, send a third, then drop the connection.
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 100_000), () => res.socket?.destroy());
    } else if (name === 'corrupt.bin') {
      const bad = Buffer.from(body);
      bad[1234] ^= 1;
      res.writeHead(200, { 'content-length': bad.length }).end(bad);
    } else {
      res.writeHead(200, { 'content-length': body.length }).end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

function spec(dirName: string, name: string, sum = md5): DatasetFiles {
  return {
    dataset: 'test set',
    dir: path.join(tmp, dirName),
    baseUrl: 'http://unused.invalid',
    files: [{ name, md5: sum }],
  };
}

/** A port that was just free: connecting to it is refused. */
async function refusedPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const quiet = { progress: false, retryDelayMs: 0, log: () => {} };

/** Files in `dir`, hidden temp files included. */
const listing = (dir: string) => fs.readdirSync(dir).sort();

describe('ensureFiles', () => {
  it('downloads from the mirror, verifies, and leaves only the file and its stamp', async () => {
    const s = spec('ok', 'good.bin');
    await ensureFiles(s, { ...quiet, mirror: base });
    expect(fs.readFileSync(path.join(s.dir, 'good.bin')).equals(body)).toBe(true);
    expect(listing(s.dir)).toEqual(['.good.bin.verified', 'good.bin']);
  });

  it('takes the mirror from BNN_DATA_MIRROR', async () => {
    process.env.BNN_DATA_MIRROR = `${base}/`;
    try {
      const s = spec('env', 'good.bin');
      await ensureFiles(s, quiet);
      expect(fs.existsSync(path.join(s.dir, 'good.bin'))).toBe(true);
    } finally {
      delete process.env.BNN_DATA_MIRROR;
    }
  });

  it('retries a transfer cut mid-way and succeeds', async () => {
    const s = spec('flaky', 'flaky.bin');
    const lines: string[] = [];
    await ensureFiles(s, { ...quiet, mirror: base, log: (l) => lines.push(l) });
    expect(requests['flaky.bin']).toBe(2);
    expect(lines.join('\n')).toMatch(/transfer interrupted.*retrying/);
    expect(fs.readFileSync(path.join(s.dir, 'flaky.bin')).equals(body)).toBe(true);
  });

  it('gives up on a transfer that always breaks, leaving nothing that looks complete', async () => {
    const s = spec('cut', 'cut.bin');
    await expect(ensureFiles(s, { ...quiet, mirror: base, attempts: 2 })).rejects.toThrow(
      /cut\.bin: download failed after 2 attempt\(s\):.*transfer interrupted/,
    );
    expect(listing(s.dir)).toEqual([]);
  });

  it('rejects a checksum mismatch after its retries', async () => {
    const s = spec('corrupt', 'corrupt.bin');
    const before = requests['corrupt.bin'] ?? 0;
    await expect(ensureFiles(s, { ...quiet, mirror: base, attempts: 3 })).rejects.toThrow(
      new RegExp(`checksum mismatch: MD5 [0-9a-f]{32}, expected ${md5}`),
    );
    expect(requests['corrupt.bin'] - before).toBe(3);
    expect(listing(s.dir)).toEqual([]);
  });

  it('does not retry a 404', async () => {
    const s = spec('404', 'missing.bin');
    await expect(ensureFiles(s, { ...quiet, mirror: base })).rejects.toThrow(/after 1 attempt\(s\).*HTTP 404/);
  });

  it('says which files to put where when the host is unreachable', async () => {
    const port = await refusedPort();
    const s: DatasetFiles = {
      ...spec('offline', 'a.bin'),
      files: [
        { name: 'a.bin', md5: '0'.repeat(32) },
        { name: 'b.bin', md5: '1'.repeat(32) },
      ],
    };
    const err = await ensureFiles(s, { ...quiet, mirror: `http://127.0.0.1:${port}` }).catch((e) => e);
    expect(err).toBeInstanceOf(OfflineError);
    expect(err.message).toMatch(/unreachable \(ECONNREFUSED\)/);
    expect(err.message).toContain(`in ${path.resolve(s.dir)}${path.sep} by hand`);
    expect(err.message).toMatch(/a\.bin {2}MD5 0{32}/);
    expect(err.message).toMatch(/b\.bin {2}MD5 1{32}/);
    expect(listing(s.dir)).toEqual([]);
  });

  it('verifies a copy placed by hand, caches the check, and refuses a corrupt one', async () => {
    const s = spec('manual', 'placed.bin');
    fs.mkdirSync(s.dir, { recursive: true });
    const file = path.join(s.dir, 'placed.bin');
    fs.writeFileSync(file, body);
    await ensureFiles(s, quiet); // no mirror needed: nothing is fetched
    expect(requests['placed.bin']).toBeUndefined();
    expect((await verifyFile(file, md5)).cached).toBe(true);

    const bad = Buffer.from(body);
    bad[0] ^= 0xff;
    fs.writeFileSync(file, bad); // new size-or-mtime: the stamp no longer applies
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    await expect(ensureFiles(s, quiet)).rejects.toThrow(
      /placed\.bin: MD5 [0-9a-f]{32}, expected .*corrupt or incomplete/,
    );
  });

  it('reaches the loaders: CIFAR-10 and SVHN name their files, MD5s and alternatives', async () => {
    const mirror = `http://127.0.0.1:${await refusedPort()}`;
    const cifar = await loadCifar10({ dir: path.join(tmp, 'c10'), download: { ...quiet, mirror } }).catch((e) => e);
    expect(cifar).toBeInstanceOf(OfflineError);
    expect(cifar.message).toMatch(/cifar-10-binary\.tar\.gz {2}MD5 c32a1d4ab5d03f1284b67883e8d87530/);
    expect(cifar.message).toMatch(/unpacked archive works too: data_batch_1\.bin.*cifar-10-batches-bin/);
    const svhn = await loadSvhn({ dir: path.join(tmp, 'sv'), download: { ...quiet, mirror } }).catch((e) => e);
    expect(svhn).toBeInstanceOf(OfflineError);
    for (const [name, md5] of [
      ['train_32x32.mat', 'e26dedcc434d2e4c54c9b2d4a06d8373'],
      ['test_32x32.mat', 'eb5a983be6a315427106f1b164d9cef3'],
      ['extra_32x32.mat', 'a93ce644f1a588dc4d68dda5feec44a7'],
    ]) {
      expect(svhn.message).toContain(`${name}  MD5 ${md5}`);
    }
    expect(svhn.message).toMatch(/includeExtra: false/);
  });
});
