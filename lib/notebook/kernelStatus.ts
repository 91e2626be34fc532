/**
 * The kernel indicator during a long cell. tslab 1.0.22 handles a shell message that arrives while a cell
 * runs (the Notebook's `comm_open`, `comm_info_request`, `kernel_info_request`) without waiting for the cell,
 * and publishes `busy` then `idle` for it: Jupyter Notebook's indicator then shows *idle* for the rest of the
 * cell. Likewise under Run All: each queued cell is answered `busy` on arrival, so the first cell's `idle`
 * shows *idle* while the others run. tslab answers `comm_open` with nothing (it logs "unknown msg_type:
 * comm_open"); that cannot be changed from a notebook. What can: notebook code runs inside the kernel's
 * process and shares its module cache, so `keepBusyWhileRunning` wraps tslab's `ZmqServer.publishStatus` to
 * publish `busy` again, parented to the oldest pending cell, after any `idle` while cells are pending. A tslab
 * without that method is left alone. lib/notebook installs it when it is loaded.
 */
import * as jupyter from 'tslab/dist/jupyter';

type Message = { header?: { msg_type?: string; msg_id?: string } };
type Publish = ((this: unknown, status: string, parent: Message) => void) & { bnnKeepBusy?: true };

/** Installs the wrapper once; returns whether it is installed. */
export function keepBusyWhileRunning(): boolean {
  const proto = (jupyter as unknown as { ZmqServer?: { prototype: { publishStatus?: Publish } } }).ZmqServer?.prototype;
  const original = proto?.publishStatus;
  if (!proto || typeof original !== 'function') return false;
  if (original.bnnKeepBusy) return true;
  // execute_requests sent but not yet answered with idle, oldest first (Run All queues them all).
  const pending = new Map<string, Message>();
  const publish: Publish = function (this: unknown, status, parent) {
    original.call(this, status, parent);
    const header = parent?.header;
    if (!header?.msg_id) return;
    if (header.msg_type === 'execute_request' && status === 'busy') pending.set(header.msg_id, parent);
    else if (status === 'idle') {
      if (header.msg_type === 'execute_request') pending.delete(header.msg_id);
      // Another message, or one cell of several queued (Run All), went idle: the next cell still runs.
      if (pending.size > 0) original.call(this, 'busy', pending.values().next().value!);
    }
  };
  publish.bnnKeepBusy = true;
  proto.publishStatus = publish;
  return true;
}
