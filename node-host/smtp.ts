// The node host's mailer (Deps.mailer): nodemailer over CERTKEEP_SMTP_URL (`smtp://` with STARTTLS
// when the server offers it, `smtps://` for TLS from the start), from CERTKEEP_SMTP_FROM. Every
// step has a deadline, so a mail server that does not answer fails a delivery (which is retried)
// instead of holding it. nodemailer loads with the first mail: most hosts never send one.
import type { Transporter } from 'nodemailer';
import type { Mailer, MailMessage } from '../src/deps.ts';

/** Connecting, the server's greeting, and every later read or write, each within this. */
const SMTP_TIMEOUT_MS = 15_000;

export function smtpMailer(smtp: { url: string; from: string }): Mailer {
  let transport: Promise<Transporter> | undefined;
  const open = () =>
    (transport ??= import('nodemailer').then((nodemailer) => {
      const url = new URL(smtp.url);
      return nodemailer.createTransport({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
        secure: url.protocol === 'smtps:',
        auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
        connectionTimeout: SMTP_TIMEOUT_MS,
        greetingTimeout: SMTP_TIMEOUT_MS,
        socketTimeout: SMTP_TIMEOUT_MS,
        // The message's own log lines would carry the recipients and the text: not on stdout.
        logger: false,
      });
    }));
  return {
    from: smtp.from,
    async send(message: MailMessage) {
      const info = await (await open()).sendMail({ from: smtp.from, to: [...message.to], subject: message.subject, text: message.text, html: message.html });
      const address = (a: unknown) => (typeof a === 'string' ? a : ((a as { address?: string }).address ?? String(a)));
      return { accepted: (info.accepted ?? []).map(address), rejected: (info.rejected ?? []).map(address), response: String(info.response ?? '') };
    },
  };
}
