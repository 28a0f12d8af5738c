import { InvalidCursorError } from './job-store';

/*
 * The list cursor every job store hands out: base64url of "<createdAt ms, 13 digits>:<id>", the
 * position of the last job of a page in newest-first order. One format for all stores, so a
 * client's cursor survives a switch of store.
 */
const POSITION = /^(\d{13}):([0-9a-f-]{36})$/;

export interface ListPosition {
  createdAt: Date;
  id: string;
}

/** "<createdAt ms, 13 digits>:<id>": sorts lexically in creation order (the Redis index member). */
export function positionKey(createdAt: Date, id: string): string {
  return `${String(createdAt.getTime()).padStart(13, '0')}:${id}`;
}

export function encodeCursor(position: ListPosition): string {
  return Buffer.from(positionKey(position.createdAt, position.id), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition {
  const match = POSITION.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new InvalidCursorError();
  return { createdAt: new Date(Number(match[1])), id: match[2] };
}
