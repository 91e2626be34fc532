/**
 * Preloaded into a CLI process (`node --require test/helpers/failWrites.cjs …`) where a small tmpfs cannot be
 * mounted: the `BNN_FAIL_WRITE_NTH`-th write to a file named `.<BNN_FAIL_WRITE_NAME>.<pid>.tmp` (the project's
 * temporary name, lib/io/atomicWrite.ts) fails as a full disk does: ENOSPC after half of the bytes are written.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const name = process.env.BNN_FAIL_WRITE_NAME;
const nth = Number(process.env.BNN_FAIL_WRITE_NTH ?? 1);
const paths = new Map();
let count = 0;

const target = (fd) => {
  const file = typeof fd === 'number' ? paths.get(fd) : String(fd);
  return file !== undefined && path.basename(file) === `.${name}.${process.pid}.tmp`;
};

const openSync = fs.openSync;
fs.openSync = function (file, ...rest) {
  const fd = openSync.call(this, file, ...rest);
  paths.set(fd, String(file));
  return fd;
};
const writeFileSync = fs.writeFileSync;
fs.writeFileSync = function (fd, data, ...rest) {
  if (target(fd) && ++count === nth) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    writeFileSync.call(this, fd, bytes.subarray(0, bytes.length >> 1));
    const err = new Error('ENOSPC: no space left on device, write');
    Object.assign(err, { code: 'ENOSPC', errno: -28, syscall: 'write' });
    throw err;
  }
  return writeFileSync.call(this, fd, data, ...rest);
};
