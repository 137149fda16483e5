/**
 * The one rule for claim-check blob names. A producer names a blob; the relay
 * reads it with its own identity, which can also read the delivery ledger, the
 * dead-letter records, the monitor's state and the host's own containers (keys
 * included). So a name must stay a plain name inside the attachment container:
 * validation refuses the message (`$.attachments[i].blob`, invalid_message), and
 * AttachmentBlobs checks the URL the SDK built before it sends any request.
 *
 * Why each part of the rule: the SDK percent-encodes each "/"-separated segment
 * and then lets the URL parser resolve "." and ".." segments (so "a/../../x"
 * leaves the container); a regular expression's "." does not match U+2028/U+2029,
 * which is how "\u2028/../../outbound-mail-ledger/x" passed the old pattern; a
 * backslash is a "/" to URL parsers and to the SDK's own name parsing; "%2e" and
 * "%2f" are dots and slashes to whoever decodes once more; "?" and "#" start a
 * query or fragment; a lone surrogate cannot be encoded at all (the SDK would
 * throw an unclassified error). Names are given as stored, never URL-encoded.
 */
import type { BlobClient, ContainerClient } from '@azure/storage-blob';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';

/** Azure Storage's limit on a blob name. */
export const MAX_BLOB_NAME_LENGTH = 1024;

/** What a blob name must look like, for documentation and problem texts. */
export const BLOB_NAME_RULE =
  'the name of a blob in the attachment container (RELAY_ATTACHMENT_CONTAINER), as stored, e.g. "orders/2026/invoice 42.pdf": ' +
  `1 to ${MAX_BLOB_NAME_LENGTH} characters, segments separated by single "/", no segment empty, "." or "..", or ending in "."; ` +
  'no backslash, "?", "#", percent-escape (%XX), URL scheme, control character, Unicode line or paragraph separator, or unpaired surrogate';

/** Control characters (C0, DEL, C1), unpaired surrogates, and U+2028/U+2029 (line and paragraph separators). */
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}]/u;
const PERCENT_ESCAPE = /%[0-9A-Fa-f]{2}/;
/** "https:", "file:", "c:" … at the start: a URL or a drive, not a name inside the container. */
const URL_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** Why `name` is not an acceptable blob name (a problem text starting "must"), or undefined when it is. */
export function blobNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_BLOB_NAME_LENGTH) return `must be at most ${MAX_BLOB_NAME_LENGTH} characters (it has ${name.length})`;
  if (UNSAFE_CHARACTERS.test(name)) return 'must not contain control characters, Unicode line or paragraph separators (U+2028, U+2029) or unpaired surrogates';
  if (name.includes('\\')) return 'must not contain a backslash';
  if (name.includes('?') || name.includes('#')) return 'must not contain "?" or "#" (a blob name has no query string or fragment)';
  if (PERCENT_ESCAPE.test(name)) return 'must be the name as stored, not percent-encoded (no %XX escapes)';
  if (URL_SCHEME.test(name)) return `must be a name inside the attachment container, not a URL (it starts with "${URL_SCHEME.exec(name)![0]}")`;
  for (const segment of name.split('/')) {
    if (segment === '') return 'must not start or end with "/" or contain "//"';
    if (segment === '.' || segment === '..') return 'must not contain "." or ".." segments';
    if (segment.endsWith('.')) return 'must not have a segment ending in "." (Azure Storage advises against it)';
  }
  return undefined;
}

/**
 * The client of blob `name` in `container`, after checking the URL the SDK built for it:
 * same origin and query as the container's, and a path that is the container's path
 * (`/<account>/<container>` on Azurite and other path-style endpoints, `/<container>` on
 * Azure) followed by exactly `name`. Throws a permanent invalid_message RelayError
 * before any request is made otherwise.
 */
export function containedBlobClient(container: ContainerClient, name: string): BlobClient {
  const problem = blobNameProblem(name);
  if (problem !== undefined) throw refused(name, container, problem);
  const blob = container.getBlobClient(name);
  const problemWithUrl = urlOutsideContainer(container, blob, name);
  if (problemWithUrl !== undefined) throw refused(name, container, problemWithUrl);
  return blob;
}

/** Why `blob`'s URL does not name exactly `name` inside `container`, or undefined when it does. */
export function urlOutsideContainer(
  container: Pick<ContainerClient, 'url' | 'containerName'>,
  blob: Pick<BlobClient, 'url' | 'containerName' | 'name'>,
  name: string,
): string | undefined {
  const base = new URL(container.url);
  const target = new URL(blob.url);
  const containerPath = base.pathname.replace(/\/+$/, '');
  if (target.origin !== base.origin) return `resolves to another storage endpoint (${target.origin})`;
  if (target.search !== base.search || target.hash !== '') return 'adds a query string or fragment to the request';
  if (!target.pathname.startsWith(`${containerPath}/`)) return `resolves to ${target.pathname}, outside the container path ${containerPath}`;
  let rest: string;
  try {
    rest = decodeURIComponent(target.pathname.slice(containerPath.length + 1));
  } catch {
    return `resolves to a path that is not well-formed (${target.pathname})`;
  }
  if (rest !== name) return `resolves to ${target.pathname}, not to the blob it names`;
  // The SDK reads container and blob back from the URL (path-style or not); they must be ours.
  if (blob.containerName !== container.containerName || blob.name !== name) return `resolves to blob "${blob.name}" in container "${blob.containerName}"`;
  return undefined;
}

function refused(name: string, container: Pick<ContainerClient, 'containerName'>, problem: string): RelayError {
  return new RelayError(`attachment blob name ${JSON.stringify(name)} is refused: it ${problem}`, {
    reason: 'invalid_message',
    kind: 'permanent',
    ...advice('blob_name_refused', { container: container.containerName, rule: BLOB_NAME_RULE }),
  });
}
