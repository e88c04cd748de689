import { rm } from 'node:fs/promises';

/**
 * Removes a test's temp dir. Retries, because a stopped libp2p node may still write a peer record into its
 * datastore as its last connections close, just after `stop()` resolved (ENOTEMPTY on the first try).
 */
export function removeDir(path: string): Promise<void> {
  return rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}
