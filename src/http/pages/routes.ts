// Page routes are tables: each page module exports its own, app.ts registers them all.
import type { HandlerContext, RoutedRequest } from '../context.ts';

export type PageHandler = (request: RoutedRequest, ctx: HandlerContext) => Promise<Response>;
export type PageRoute = readonly ['get' | 'post', string, PageHandler];
