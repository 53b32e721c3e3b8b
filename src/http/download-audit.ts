// Every download and every refused one goes into the audit log (domain/download-audit.ts): a
// wrapper around the two download handlers, so that the download API itself stays as it is. The
// record is written before the answer leaves: a download whose record cannot be written is
// answered 500 instead.
import { recordDownload } from '../domain/download-audit.ts';
import { hashSecret } from '../domain/secrets.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { statusOfError } from './problem.ts';

type Handler = (request: RoutedRequest, ctx: HandlerContext) => Promise<Response>;

export function auditedDownload(kind: 'certificate' | 'key', handler: Handler): Handler {
  return async (request, ctx) => {
    let response: Response | undefined;
    let failure: unknown;
    try {
      response = await handler(request, ctx);
    } catch (err) {
      failure = err;
    }
    const presented = request.headers.get('apikey');
    const keyHash = presented ? await hashSecret(ctx.deps, presented) : null;
    await recordDownload(ctx.deps, {
      kind,
      name: request.params.name ?? '',
      presented,
      keyHash,
      clientIp: ctx.clientIp,
      status: response ? response.status : statusOfError(failure),
    });
    if (!response) throw failure;
    return response;
  };
}
