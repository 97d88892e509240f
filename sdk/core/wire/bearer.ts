import type { Metadata } from '@grpc/grpc-js';

/** Metadata carrying `token` as a bearer token; the platform checks it (sdk/platform/auth.ts). */
export function withBearer(metadata: Metadata, token: string): Metadata {
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}
