/** What the bootstrap server knows about a device: the owner it is bound to and its most specific record. */
import type { CompiledQuery } from 'kysely';
import { toDevice } from '../registry/service.ts';
import type { Device } from '../registry/types.ts';
import type { Store } from '../store/database.ts';
import { HotSql } from '../store/hot-sql.ts';
import { hotRead } from '../store/hot-read.ts';
import type { DevicesTable } from '../store/tables/foundation.ts';
import type { SztpMasaTable, SztpOnboardingTable, SztpOwnersTable } from '../store/tables/sztp.ts';

/**
 * A hot-path query as raw SQL with `?` placeholders (none inside literals), rewritten once to the dialect's
 * style. These run on every bootstrap request; building and compiling them with the query builder added about
 * 70% to an indexed SQLite lookup (bench/sztp.ts profile: ~17 µs vs ~10 µs), and the store caches prepared
 * statements by their text.
 */
const hotSql = { sqlite: new HotSql('sqlite'), postgres: new HotSql('postgres') };
function hot(store: Pick<Store, 'dialect'>, text: string, params: readonly unknown[]): CompiledQuery {
  return hotSql[store.dialect].compiled(text, params);
}

const OWNER_OF =
  'select "sztp_owners".* from "sztp_bindings" inner join "sztp_owners" on "sztp_owners"."id" = "sztp_bindings"."owner_id" where "sztp_bindings"."device_id" = ?';

/** The owner a device is bound to, if any. */
export async function ownerOf(
  store: Pick<Store, 'db' | 'dialect'>,
  device: Device,
): Promise<SztpOwnersTable | undefined> {
  const r = await store.db.executeQuery<SztpOwnersTable>(hot(store, OWNER_OF, [device.id]));
  return r.rows[0];
}

const RECORDS_FOR =
  'select * from "sztp_onboarding" where "owner_id" = ? and (("scope" = \'device\' and "scope_id" = ?) or ("scope" = \'model\' and "scope_id" = ?) or ("scope" = \'owner\' and "scope_id" = ?))';

/** The owner's most specific onboarding or redirect record for the device: device, then model, then owner scope. */
export async function recordFor(
  store: Pick<Store, 'db' | 'dialect'>,
  device: Device,
  ownerId: string,
): Promise<SztpOnboardingTable | undefined> {
  const { rows } = await store.db.executeQuery<SztpOnboardingTable>(
    hot(store, RECORDS_FOR, [ownerId, device.id, device.modelId, ownerId]),
  );
  for (const scope of ['device', 'model', 'owner']) {
    const r = rows.find((x) => x.scope === scope);
    if (r !== undefined) return r;
  }
  return undefined;
}

const MASA_OF = 'select * from "sztp_masa" where "tenant_id" = ?';

/** The manufacturer's voucher-signing key, if it is on this server. */
export async function masaOf(
  store: Pick<Store, 'db' | 'dialect'>,
  manufacturerId: string,
): Promise<SztpMasaTable | undefined> {
  const r = await store.db.executeQuery<SztpMasaTable>(hot(store, MASA_OF, [manufacturerId]));
  return r.rows[0];
}

/** What a bootstrap request needs to know about its device, read in one statement (one snapshot). */
export interface BootstrapContext {
  readonly device: Device;
  /** The owner the device is bound to. */
  readonly owner: SztpOwnersTable | undefined;
  /** The owner's most specific record for the device. */
  readonly record: SztpOnboardingTable | undefined;
  /** The manufacturer's MASA key, when it is on this server. */
  readonly masa: SztpMasaTable | undefined;
}

// Device, binding + owner, the most specific record and the MASA key in one statement: each statement pays
// SQLite's per-statement read-lock and result handling, which the bench profile showed as the largest cost
// left once the log writes were batched.
const CONTEXT =
  'select d.*, ' +
  'o.id as o_id, o.tenant_id as o_tenant_id, o.name as o_name, o.key_id as o_key_id, o.chain as o_chain, ' +
  'o.pinned_domain_cert as o_pinned_domain_cert, o.created_at as o_created_at, ' +
  'r.id as r_id, r.scope as r_scope, r.scope_id as r_scope_id, r.document as r_document, r.kind as r_kind, ' +
  'r.encoding as r_encoding, r.encrypt as r_encrypt, r.ldevid as r_ldevid, r.updated_at as r_updated_at, ' +
  'm.tenant_id as m_tenant_id, m.key_id as m_key_id, m.chain as m_chain, ' +
  'm.voucher_validity_days as m_voucher_validity_days, m.created_at as m_created_at, ' +
  '(select g.n from "sztp_generation" g where g.id = 1) as gen ' +
  'from "devices" d ' +
  'left join "sztp_bindings" b on b.device_id = d.id ' +
  'left join "sztp_owners" o on o.id = b.owner_id ' +
  'left join "sztp_onboarding" r on r.id = (select x.id from "sztp_onboarding" x where x.owner_id = o.id and (' +
  "(x.scope = 'device' and x.scope_id = d.id) or (x.scope = 'model' and x.scope_id = d.model_id) or " +
  "(x.scope = 'owner' and x.scope_id = o.id)) " +
  "order by case x.scope when 'device' then 0 when 'model' then 1 else 2 end limit 1) " +
  'left join "sztp_masa" m on m.tenant_id = d.manufacturer_id ' +
  'where d.manufacturer_id = ? and d.serial = ?';

type Prefixed<P extends string, T> = { [K in keyof T as `${P}${K & string}`]: T[K] | null };
type ContextRow = DevicesTable &
  Prefixed<'o_', SztpOwnersTable> &
  Prefixed<'r_', Omit<SztpOnboardingTable, 'owner_id'>> &
  Prefixed<'m_', SztpMasaTable> & { gen: number };

/** A manufacturer's device by serial with its owner, most specific record and MASA key, or undefined. */
export async function bootstrapContext(
  store: Pick<Store, 'db' | 'dialect'>,
  manufacturerId: string,
  serial: string,
): Promise<BootstrapContext | undefined> {
  return (await bootstrapContextAt(store, manufacturerId, serial))?.context;
}

/**
 * As bootstrapContext, with the SZTP context generation read in the same statement (so the same snapshot):
 * the context is current for as long as the generation has not moved.
 */
export async function bootstrapContextAt(
  store: Pick<Store, 'db' | 'dialect'>,
  manufacturerId: string,
  serial: string,
): Promise<{ context: BootstrapContext; generation: number } | undefined> {
  const { rows } = await store.db.executeQuery<ContextRow>(hot(store, CONTEXT, [manufacturerId, serial]));
  const r = rows[0];
  if (r === undefined) return undefined;
  const owner: SztpOwnersTable | undefined =
    r.o_id === null
      ? undefined
      : {
          id: r.o_id,
          tenant_id: r.o_tenant_id as string,
          name: r.o_name as string,
          key_id: r.o_key_id,
          chain: r.o_chain as string,
          pinned_domain_cert: r.o_pinned_domain_cert as Uint8Array,
          created_at: r.o_created_at as string,
        };
  const record: SztpOnboardingTable | undefined =
    r.r_id === null || owner === undefined
      ? undefined
      : {
          id: r.r_id,
          owner_id: owner.id,
          scope: r.r_scope as string,
          scope_id: r.r_scope_id as string,
          document: r.r_document as string,
          kind: r.r_kind as string,
          encoding: r.r_encoding as string,
          encrypt: r.r_encrypt as number,
          ldevid: r.r_ldevid as number,
          updated_at: r.r_updated_at as string,
        };
  const masa: SztpMasaTable | undefined =
    r.m_tenant_id === null
      ? undefined
      : {
          tenant_id: r.m_tenant_id,
          key_id: r.m_key_id as string,
          chain: r.m_chain as string,
          voucher_validity_days: r.m_voucher_validity_days as number,
          created_at: r.m_created_at as string,
        };
  return { context: { device: toDevice(r), owner, record, masa }, generation: Number(r.gen) };
}

const DEVICE_AT =
  'select d.*, (select g.n from "sztp_generation" g where g.id = 1) as gen from "devices" d ' +
  'where d.manufacturer_id = ? and d.serial = ?';

/** A manufacturer's device by serial and the SZTP context generation, read in one statement, or undefined. */
export async function deviceAt(
  store: Pick<Store, 'db' | 'dialect'>,
  manufacturerId: string,
  serial: string,
): Promise<{ device: Device; generation: number } | undefined> {
  // Through the driver's prepared statement (src/store/hot-read.ts): Kysely's executor cost more than the read.
  const rows = await hotRead<DevicesTable & { gen: number }>(
    store,
    hot(store, DEVICE_AT, [manufacturerId, serial]),
  );
  const r = rows[0];
  return r === undefined ? undefined : { device: toDevice(r), generation: Number(r.gen) };
}

/** DER certificates of a stored chain (JSON list of base64). */
export const chainOf = (json: string): Uint8Array[] =>
  (JSON.parse(json) as string[]).map((b) => new Uint8Array(Buffer.from(b, 'base64')));
