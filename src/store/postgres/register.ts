// Importing this module makes openStore('postgres://…') open a PostgresStore (src/store/open.ts).
// Kept apart from index.ts so that the SQLite-only paths never load pg.
import { registerStore } from '../open.js';
import { PostgresStore } from './store.js';

registerStore('postgres:', (url) => PostgresStore.open(url));
