#!/usr/bin/env node
// The installed `opsight` command: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('./opsight.ts');
