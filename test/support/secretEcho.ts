/** A secret pasted where it does not belong, for the tests that nothing prints it back. */
import assert from 'node:assert/strict';

/** A new client secret, pasted into the wrong setting: registered nowhere, so only the echo rules keep it in. */
export const PASTED = 'Xk7Q~pR2v9LmZt4Wq1Hs8Nd3Fb6Gy0Jc5Ue.Ao';
/** A SAS signature in a service URI's query, where a producer of such URIs puts it (first). */
export const SIGNATURE = 'Zx9aBcDeFgHiJkLmNoPqRsTuVwXy0123456789';
export const SAS_URI = `http://relaystore.queue.core.windows.net/?sig=${SIGNATURE}%3D&sv=2022-11-02&ss=q&srt=sco&sp=rwdlacup`;

/** Not even a few characters of the secret: no 5-character piece of it appears. */
export function assertNoPieceOf(secret: string, text: string, what: string): void {
  for (let i = 0; i + 5 <= secret.length; i++) {
    const piece = secret.slice(i, i + 5);
    assert.ok(!text.includes(piece), `${what} shows "${piece}" of the secret:\n${text}`);
  }
}
