#!/usr/bin/env node
// The `certkeep` executable. The sources are TypeScript; tsx compiles them on load, so a fresh
// `npm install` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
