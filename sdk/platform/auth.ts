import { timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { StratusError } from '../core/errors';

/** The bearer token in a call's `authorization` metadata, if any. */
export function bearerToken(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match?.[1];
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token in an HTTP `Authorization: Bearer <token>` header value, if any. */
export function parseBearer(value: string | undefined): string | undefined {
  return value === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(value.trim())?.[1];
}

/** Throws Unauthenticated unless the call carries one of `accepted` (compared in constant time). */
export function requireToken(metadata: Metadata, accepted: readonly string[], hint: string): void {
  const token = bearerToken(metadata);
  if (!token) throw new StratusError('Unauthenticated', `no bearer token on the request: ${hint}`);
  if (!accepted.some((t) => same(t, token))) throw new StratusError('Unauthenticated', `the bearer token is not valid here: ${hint}`);
}
