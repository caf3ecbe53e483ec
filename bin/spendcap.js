#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm install` through the prepare script).
// The status line runs on every redraw of Claude Code: it skips loading the rest of the CLI.
if (process.argv[2] === 'statusline') {
  const { statuslineMain } = await import('../dist/src/cli/commands/statusline.js');
  process.exitCode = await statuslineMain(process.argv.slice(3));
} else {
  const { main } = await import('../dist/src/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
}
