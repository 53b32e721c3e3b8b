// The certificate authorities offered by name wherever an ACME account is made (the setup wizard,
// the accounts page), and what a CA's directory said about itself.
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from '../src/domain/accounts.ts';

/** The CAs offered by name; "other" takes a directory URL. */
export const CA_CHOICES = [
  { value: 'letsencrypt', label: "Let's Encrypt", url: LETS_ENCRYPT },
  { value: 'letsencrypt-staging', label: "Let's Encrypt staging (test certificates)", url: LETS_ENCRYPT_STAGING },
  { value: 'other', label: 'Another ACME CA', url: '' },
] as const;

/** What a CA's directory said about itself (RFC 8555 §7.1.1 `meta`), or why it could not be read. */
export interface CaInfo {
  /** The directory URL read ('' when none was chosen yet). */
  url: string;
  termsOfService?: string;
  externalAccountRequired: boolean;
  error?: string;
}
