/** lib/notebook/kernelStatus.ts: the kernel indicator stays busy while a cell runs under tslab. */
import * as jupyter from 'tslab/dist/jupyter';
import { expect, it } from 'vitest';

it('publishes busy again, parented to the running cell, after another message idles during it', async () => {
  const sent: string[] = [];
  const proto = (jupyter as unknown as { ZmqServer: { prototype: Record<string, unknown> } }).ZmqServer.prototype;
  proto.publishStatus = (status: string, parent: { header: { msg_id: string } }) =>
    sent.push(`${status} ${parent.header.msg_id}`);
  const { keepBusyWhileRunning } = await import('../lib/notebook/kernelStatus');
  expect(keepBusyWhileRunning()).toBe(true);
  expect(keepBusyWhileRunning()).toBe(true); // once only
  const msg = (msg_type: string, msg_id: string) => ({ header: { msg_type, msg_id } });
  const publish = proto.publishStatus as (status: string, parent: object) => void;
  publish.call({}, 'busy', msg('execute_request', 'cell'));
  publish.call({}, 'busy', msg('comm_open', 'comm'));
  publish.call({}, 'idle', msg('comm_open', 'comm'));
  publish.call({}, 'busy', msg('execute_request', 'next')); // Run All: queued behind 'cell'
  publish.call({}, 'idle', msg('execute_request', 'cell'));
  publish.call({}, 'idle', msg('execute_request', 'next'));
  publish.call({}, 'busy', msg('kernel_info_request', 'info'));
  publish.call({}, 'idle', msg('kernel_info_request', 'info'));
  expect(sent).toEqual([
    'busy cell',
    'busy comm',
    'idle comm',
    'busy cell',
    'busy next',
    'idle cell',
    'busy next',
    'idle next',
    'busy info',
    'idle info',
  ]);
});
