/** Onboarding and redirect records of an owner, per device, model or owner scope (the most specific wins). */
import { newId } from '../core/ids.ts';
import { nowIso, type Actor, type AdminDeps } from './admin-deps.ts';
import { parseConveyedJson } from './conveyed-info.ts';
import { getOwner } from './owners.ts';
import type { Encoding } from './types.ts';

/** Scope of an onboarding or redirect record; the most specific one wins (device, then model, then owner). */
export type RecordScope = 'device' | 'model' | 'owner';

/**
 * Sets the onboarding or redirect information for a scope (RFC 8572 JSON document, validated), replacing the
 * scope's earlier record. Throws ERR_SZTP_CONVEYED_INFO_INVALID, ERR_SZTP_OWNER_NOT_FOUND.
 */
export async function setRecord(
  deps: AdminDeps,
  by: Actor,
  input: {
    ownerId: string;
    scope: RecordScope;
    scopeId: string;
    document: unknown;
    encoding?: Encoding;
    encrypt?: boolean;
    ldevid?: boolean;
  },
): Promise<{ id: string; kind: string }> {
  const text = JSON.stringify(input.document);
  const info = parseConveyedJson(text);
  return deps.store.transaction(async (tx) => {
    const owner = await getOwner(tx, input.ownerId);
    await tx
      .deleteFrom('sztp_onboarding')
      .where('owner_id', '=', owner.id)
      .where('scope', '=', input.scope)
      .where('scope_id', '=', input.scopeId)
      .execute();
    const row = {
      id: newId('lnk'),
      owner_id: owner.id,
      scope: input.scope,
      scope_id: input.scopeId,
      document: text,
      kind: info.kind,
      encoding: input.encoding ?? 'json',
      encrypt: input.encrypt === true ? 1 : 0,
      ldevid: input.ldevid === true ? 1 : 0,
      updated_at: nowIso(deps),
    };
    await tx.insertInto('sztp_onboarding').values(row).execute();
    await deps.audit.append(tx, {
      ...by,
      action: `sztp.${info.kind}.set`,
      subject: row.id,
      tenantId: owner.tenantId,
      details: { scope: row.scope, scopeId: row.scope_id, encrypt: input.encrypt === true },
    });
    return { id: row.id, kind: info.kind };
  });
}
