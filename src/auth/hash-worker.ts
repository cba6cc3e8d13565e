/**
 * A password-hashing thread (see passwords.ts). It lowers its own scheduling priority first
 * (Linux applies setpriority to the calling thread only), so that while logins saturate every
 * core the event loop still answers Status-Server and retransmissions at once.
 */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { hashSync, verifySync } from '@node-rs/argon2';
import { ARGON2_PARAMS, type HashTask } from './hash-task.js';

setPriority(19);
const port = parentPort as NonNullable<typeof parentPort>;
port.on('message', (task: HashTask) => {
  let result: string | boolean;
  if (task.op === 'hash') {
    result = hashSync(task.password, ARGON2_PARAMS);
  } else {
    try {
      result = verifySync(task.hash, task.password);
    } catch {
      result = false; // a malformed stored hash is a mismatch, not a fault
    }
  }
  port.postMessage(result);
});
