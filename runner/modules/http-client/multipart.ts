import { randomBytes } from 'node:crypto';

/**
 * multipart/form-data (RFC 7578) as browsers and Go's mime/multipart write it: one part per
 * field, a filename and a Content-Type for files, names escaped as the WHATWG HTML spec says.
 */

export interface Part {
  name: string;
  data: Buffer;
  /** set for a file part */
  filename?: string;
  contentType?: string;
}

const escapeName = (s: string) => s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

export function encodeMultipart(parts: readonly Part[]): { bytes: Buffer; contentType: string } {
  const boundary = `gelombang${randomBytes(15).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(p.name)}"`;
    if (p.filename !== undefined) head += `; filename="${escapeName(p.filename)}"`;
    head += '\r\n';
    if (p.contentType !== undefined) head += `Content-Type: ${p.contentType.replace(/[\r\n]/g, '')}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { bytes: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
