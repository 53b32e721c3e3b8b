// What `certkeep import certera` reads from a Certera 2.x `Certera.db` (SQLite, written by
// Entity Framework Core). The schema is the one Certera's published migrations create
// (certera-io/certera, src/Certera.Data/Migrations); test/fixtures/certera/generate.ts builds it
// from those migrations and says which migration each table and column comes from.
//
// The host opens the file read-only and hands over a CerteraReader; everything here is plain
// SQL on it, so the rules are the same wherever the file is read. EF Core's SQLite conventions:
// integers (ids, enums, booleans 0/1) as INTEGER, strings and dates as TEXT.
import { CertkeepError } from '../../errors.ts';

/** One read-only query; the rows as plain objects keyed by column name. */
export interface CerteraReader {
  all(sql: string): Promise<Array<Record<string, unknown>>>;
}

/** Every migration Certera 2.x (and 1.5, whose schema is the same) applied, in order. */
export const CERTERA_MIGRATIONS = [
  '20190908034945_AspnetIdentity',
  '20190926043004_DataModels',
  '20200107001128_IndividualApiKey',
  '20200108175150_SetApiKeyValues',
  '20200303222607_SlackNotification',
] as const;

/** AcmeOrderStatus.Completed: an order whose certificate was issued and stored. */
const ORDER_COMPLETED = 5;
/** CertificateSource.Uploaded: a public certificate uploaded to the tracking page. */
const SOURCE_UPLOADED = 1;

export interface CerteraUser {
  id: number;
  email: string | null;
  userName: string | null;
  passwordHash: string | null;
  twoFactorEnabled: boolean;
  /** Identity's own tokens: the authenticator (TOTP) key, base32, and the unused recovery codes. */
  authenticatorKey: string | null;
  recoveryCodes: string[];
}

export interface CerteraKey {
  id: number;
  name: string;
  /** PEM as Certes wrote it (SEC1 `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`), or as uploaded. */
  pem: string;
  apiKey1: string | null;
  apiKey2: string | null;
}

export interface CerteraAccount {
  id: number;
  email: string;
  termsOfServiceAgreed: boolean;
  staging: boolean;
  keyId: number;
}

export interface CerteraCertificate {
  id: number;
  name: string;
  subject: string;
  /** Separated by new lines, commas or semicolons, as typed into Certera. */
  sans: string | null;
  keyId: number;
  accountId: number;
  challengeType: string | null;
  csr: { CN: string | null; O: string | null; OU: string | null; C: string | null; ST: string | null; L: string | null };
  apiKey1: string | null;
  apiKey2: string | null;
  /** The chain of the latest completed order (what Certera served), or null when none completed. */
  chainPem: string | null;
}

/** NotificationSettings: one row per user (DataModels; Slack columns from SlackNotification). */
export interface CerteraNotificationSetting {
  id: number;
  userId: number;
  /** The kinds: expiry warnings, tracked certificate changes, failures to obtain a certificate. */
  expiration: boolean;
  change: boolean;
  acquisitionFailure: boolean;
  /** Which expiry warnings (days left) were on. */
  expirationDays: number[];
  /** As typed into Certera: addresses separated by commas or semicolons. */
  additionalRecipients: string | null;
  sendEmail: boolean;
  sendSlack: boolean;
  slackWebhookUrl: string | null;
}

export interface CerteraSnapshot {
  migrations: string[];
  users: CerteraUser[];
  keys: CerteraKey[];
  accounts: CerteraAccount[];
  certificates: CerteraCertificate[];
  /** The Settings table: RenewCertificateDays and the Dns01* script settings. */
  settings: Map<string, string | null>;
  notifications: CerteraNotificationSetting[];
  /** The tracking page: tracked URLs (`https://host[:port]`) and uploaded public certificates. */
  tracked: { urls: CerteraTrackedUrl[]; uploads: CerteraUpload[] };
  /** Rows of what Certkeep cannot take over yet: counted for the report. */
  counts: { notificationSettings: number };
}

export interface CerteraTrackedUrl {
  id: number;
  uri: string | null;
}

/** A certificate uploaded to Certera's tracking page (DomainCertificates, CertificateSource.Uploaded). */
export interface CerteraUpload {
  id: number;
  /** Base64 of the DER certificate (X509Certificate2.Export(Cert)), as Certera stored it. */
  rawData: string | null;
  subject: string | null;
}

function notCertera(detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `not a Certera database: ${detail}`);
}

/**
 * Checks that the file is a Certera database whose migrations are all known, then reads what
 * the import needs. Refuses (BAD_REQUEST, naming the reason) a database of something else, one
 * that lacks a migration (Certera older than 1.5: no per-object API keys yet), and one that
 * carries a migration this importer does not know (a newer Certera, whose data may mean more
 * than what is read here).
 */
export async function readCertera(reader: CerteraReader): Promise<CerteraSnapshot> {
  const tables = new Set((await reader.all("SELECT name FROM sqlite_master WHERE type = 'table'")).map((r) => String(r.name)));
  if (!tables.has('__EFMigrationsHistory')) throw notCertera('it has no __EFMigrationsHistory table');
  const migrations = (await reader.all('SELECT "MigrationId" FROM "__EFMigrationsHistory" ORDER BY "MigrationId"')).map((r) => String(r.MigrationId));
  const unknown = migrations.filter((m) => !(CERTERA_MIGRATIONS as readonly string[]).includes(m));
  if (migrations.length > 0 && unknown.length === migrations.length) {
    throw notCertera(`its Entity Framework migrations (${migrations.slice(0, 3).join(', ')}${migrations.length > 3 ? ', …' : ''}) are not Certera's`);
  }
  if (unknown.length > 0) {
    throw new CertkeepError('BAD_REQUEST', `unknown Certera migration ${unknown.join(', ')}: this importer knows Certera 2.x up to ${CERTERA_MIGRATIONS.at(-1)}`);
  }
  if (migrations.length === 0) throw notCertera('no migration has been applied to it');
  const missing = CERTERA_MIGRATIONS.filter((m) => !migrations.includes(m));
  if (missing.length > 0) {
    throw new CertkeepError('BAD_REQUEST', `this Certera database lacks migration ${missing.join(', ')}: start Certera 2.x on it once, so that it upgrades the database, then import again`);
  }
  for (const table of ['AspNetUsers', 'AspNetUserTokens', 'Keys', 'AcmeAccounts', 'AcmeCertificates', 'AcmeOrders', 'Settings', 'Domains', 'DomainCertificates', 'NotificationSettings']) {
    if (!tables.has(table)) throw notCertera(`the ${table} table is missing`);
  }

  const tokens = await reader.all(`SELECT "UserId", "Name", "Value" FROM "AspNetUserTokens" WHERE "LoginProvider" = '[AspNetUserStore]'`);
  const token = (userId: number, name: string) => {
    const row = tokens.find((t) => Number(t.UserId) === userId && t.Name === name);
    return row ? text(row.Value) : null;
  };
  const users = (await reader.all('SELECT "Id", "Email", "UserName", "PasswordHash", "TwoFactorEnabled" FROM "AspNetUsers" ORDER BY "Id"')).map((r): CerteraUser => {
    const id = Number(r.Id);
    return {
      id,
      email: text(r.Email),
      userName: text(r.UserName),
      passwordHash: text(r.PasswordHash),
      twoFactorEnabled: Number(r.TwoFactorEnabled) === 1,
      authenticatorKey: token(id, 'AuthenticatorKey'),
      recoveryCodes: (token(id, 'RecoveryCodes') ?? '').split(';').map((c) => c.trim()).filter(Boolean),
    };
  });

  const keys = (await reader.all('SELECT "KeyId", "Name", "RawData", "ApiKey1", "ApiKey2" FROM "Keys" ORDER BY "KeyId"')).map(
    (r): CerteraKey => ({ id: Number(r.KeyId), name: String(r.Name), pem: String(r.RawData ?? ''), apiKey1: text(r.ApiKey1), apiKey2: text(r.ApiKey2) }),
  );

  const accounts = (await reader.all('SELECT "AcmeAccountId", "AcmeContactEmail", "AcmeAcceptTos", "IsAcmeStaging", "KeyId" FROM "AcmeAccounts" ORDER BY "AcmeAccountId"')).map(
    (r): CerteraAccount => ({
      id: Number(r.AcmeAccountId),
      email: String(r.AcmeContactEmail ?? ''),
      termsOfServiceAgreed: Number(r.AcmeAcceptTos) === 1,
      staging: Number(r.IsAcmeStaging) === 1,
      keyId: Number(r.KeyId),
    }),
  );

  // The chain Certera served: its latest completed order's (CertificateController → GetAcmeCertificate →
  // LatestValidAcmeOrder: newest DateCreated among Status = Completed). EF writes DateCreated as
  // sortable text; the order id breaks ties.
  const chains = new Map(
    (
      await reader.all(
        `SELECT o."AcmeCertificateId" AS certificateId, o."RawDataPem" AS pem FROM "AcmeOrders" o
         WHERE o."AcmeOrderId" = (SELECT l."AcmeOrderId" FROM "AcmeOrders" l
           WHERE l."AcmeCertificateId" = o."AcmeCertificateId" AND l."Status" = ${ORDER_COMPLETED} AND l."RawDataPem" IS NOT NULL
           ORDER BY l."DateCreated" DESC, l."AcmeOrderId" DESC LIMIT 1)`,
      )
    ).map((r) => [Number(r.certificateId), String(r.pem)] as const),
  );
  const certificates = (
    await reader.all(
      `SELECT "AcmeCertificateId", "Name", "Subject", "SANs", "KeyId", "AcmeAccountId", "ChallengeType", "CsrCommonName", "CsrOrganization",
              "CsrOrganizationUnit", "CsrCountryName", "CsrState", "CsrLocality", "ApiKey1", "ApiKey2"
       FROM "AcmeCertificates" ORDER BY "AcmeCertificateId"`,
    )
  ).map(
    (r): CerteraCertificate => ({
      id: Number(r.AcmeCertificateId),
      name: String(r.Name),
      subject: String(r.Subject ?? ''),
      sans: text(r.SANs),
      keyId: Number(r.KeyId),
      accountId: Number(r.AcmeAccountId),
      challengeType: text(r.ChallengeType),
      csr: { CN: text(r.CsrCommonName), O: text(r.CsrOrganization), OU: text(r.CsrOrganizationUnit), C: text(r.CsrCountryName), ST: text(r.CsrState), L: text(r.CsrLocality) },
      apiKey1: text(r.ApiKey1),
      apiKey2: text(r.ApiKey2),
      chainPem: chains.get(Number(r.AcmeCertificateId)) ?? null,
    }),
  );

  const settings = new Map((await reader.all('SELECT "Name", "Value" FROM "Settings" ORDER BY "SettingId"')).map((r) => [String(r.Name), text(r.Value)] as const));
  const count = async (sql: string) => Number((await reader.all(sql))[0]?.n ?? 0);
  const flag = (value: unknown) => Number(value) === 1;
  const notifications = (
    await reader.all(
      `SELECT "NotificationSettingId", "ApplicationUserId", "ExpirationAlerts", "ChangeAlerts", "AcquisitionFailureAlerts", "ExpirationAlert1Day",
              "ExpirationAlert3Days", "ExpirationAlert7Days", "ExpirationAlert14Days", "ExpirationAlert30Days", "AdditionalRecipients",
              "SendEmailNotification", "SendSlackNotification", "SlackWebhookUrl"
       FROM "NotificationSettings" ORDER BY "NotificationSettingId"`,
    )
  ).map(
    (r): CerteraNotificationSetting => ({
      id: Number(r.NotificationSettingId),
      userId: Number(r.ApplicationUserId),
      expiration: flag(r.ExpirationAlerts),
      change: flag(r.ChangeAlerts),
      acquisitionFailure: flag(r.AcquisitionFailureAlerts),
      expirationDays: ([[30, r.ExpirationAlert30Days], [14, r.ExpirationAlert14Days], [7, r.ExpirationAlert7Days], [3, r.ExpirationAlert3Days], [1, r.ExpirationAlert1Day]] as const)
        .filter(([, on]) => flag(on))
        .map(([days]) => days),
      additionalRecipients: text(r.AdditionalRecipients),
      sendEmail: flag(r.SendEmailNotification),
      sendSlack: flag(r.SendSlackNotification),
      slackWebhookUrl: text(r.SlackWebhookUrl),
    }),
  );
  // Tracked URLs in Certera's order (its list's default sort), then by id.
  const urls = (await reader.all('SELECT "DomainId", "Uri" FROM "Domains" ORDER BY "Order", "DomainId"')).map((r): CerteraTrackedUrl => ({ id: Number(r.DomainId), uri: text(r.Uri) }));
  const uploads = (
    await reader.all(`SELECT "DomainCertificateId", "RawData", "Subject" FROM "DomainCertificates" WHERE "CertificateSource" = ${SOURCE_UPLOADED} ORDER BY "DomainCertificateId"`)
  ).map((r): CerteraUpload => ({ id: Number(r.DomainCertificateId), rawData: text(r.RawData), subject: text(r.Subject) }));
  return {
    migrations,
    users,
    keys,
    accounts,
    certificates,
    settings,
    notifications,
    tracked: { urls, uploads },
    counts: {
      notificationSettings: await count('SELECT COUNT(*) AS n FROM "NotificationSettings"'),
    },
  };
}

/** A TEXT column: null for NULL and for text that is only white space. */
function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s = String(value);
  return s.trim() === '' ? null : s;
}
