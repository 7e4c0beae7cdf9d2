import { encodeMultipart } from './multipart.ts';

/**
 * k6's request bodies as bytes: a string (UTF-8), an ArrayBuffer or a view of one, an object of
 * form fields (urlencoded, or multipart when a field is an http.file()).
 */

export interface FileData {
  data: string | ArrayBuffer;
  filename?: string;
  content_type?: string;
  __k6File: true;
}

export const isFile = (v: unknown): v is FileData =>
  typeof v === 'object' && v !== null && (v as FileData).__k6File === true;

export interface EncodedBody {
  bytes: Buffer | undefined;
  /** the Content-Type the body implies, for when the script sets none */
  contentType: string | undefined;
}

const NONE: EncodedBody = { bytes: undefined, contentType: undefined };

const fileBytes = (data: string | ArrayBuffer) =>
  typeof data === 'string' ? Buffer.from(data) : Buffer.from(new Uint8Array(data));

export function encodeBody(body: unknown): EncodedBody {
  if (body === null || body === undefined) return NONE;
  if (typeof body === 'string') return { bytes: Buffer.from(body), contentType: undefined };
  if (body instanceof ArrayBuffer) return { bytes: Buffer.from(body), contentType: undefined };
  if (ArrayBuffer.isView(body))
    return { bytes: Buffer.from(body.buffer, body.byteOffset, body.byteLength), contentType: undefined };
  if (typeof body === 'object') {
    const entries = Object.entries(body as Record<string, unknown>);
    if (entries.some(([, v]) => isFile(v))) {
      return encodeMultipart(
        entries.map(([name, v]) =>
          isFile(v)
            ? {
                name,
                data: fileBytes(v.data),
                filename: v.filename ?? 'file',
                contentType: v.content_type ?? 'application/octet-stream',
              }
            : { name, data: Buffer.from(String(v)) },
        ),
      );
    }
    const text = new URLSearchParams(entries.map(([k, v]) => [k, String(v)] as [string, string])).toString();
    return { bytes: Buffer.from(text), contentType: 'application/x-www-form-urlencoded' };
  }
  throw new Error(`unsupported request body of type ${typeof body}`);
}
