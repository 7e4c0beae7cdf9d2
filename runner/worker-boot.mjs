// Entry of a runner worker thread: lets the thread load the engine's TypeScript, then starts it.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
