/**
 * The kernel indicator during a long cell. tslab 1.0.22 handles a shell message that arrives while a cell
 * runs (the Notebook's `comm_open`, `comm_info_request`, `kernel_info_request`) without waiting for the cell,
 * and publishes `busy` then `idle` for it: Jupyter Notebook's indicator then shows *idle* for the rest of the
 * cell. tslab answers `comm_open` with nothing (it logs "unknown msg_type: comm_open"); that part cannot be
 * changed from a notebook. What can: this runs inside the kernel's own process (notebook code shares its
 * module cache), so `keepBusyWhileRunning` wraps tslab's `ZmqServer.publishStatus` to publish `busy` again,
 * parented to the running cell, after any other message's `idle` while cells are pending. A tslab without that
 * method is left alone. lib/notebook installs it when it is loaded.
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
    if (header.msg_type === 'execute_request') {
      if (status === 'busy') pending.set(header.msg_id, parent);
      else if (status === 'idle') pending.delete(header.msg_id);
    } else if (status === 'idle' && pending.size > 0) {
      original.call(this, 'busy', pending.values().next().value!);
    }
  };
  publish.bnnKeepBusy = true;
  proto.publishStatus = publish;
  return true;
}
