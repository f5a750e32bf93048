// The command line of the Logto-shaped OpenID provider (provider.js; see README.md beside this
// file).
//
//   node server.js [--port N] [--host H] [--config FILE] [--ready-json] [--demo]
//       one provider; with --ready-json it prints {"issuer","port"} on stdout once it answers.
//   node server.js --many [--port N] [--host H] [--ready-json]
//       no provider yet: a control server that starts one per `POST /providers` (body: what a
//       --config file holds; answer {"issuer","port"}) and stops it on `DELETE /providers/PORT`.
//       Each has its own port, state and clock. The tests' harness (src/lib.rs) runs one such
//       process per test binary: a provider then costs milliseconds, not a Node.js start.
//   --exit-on-stdin-close   exit when stdin ends (the spawning test died or dropped us).
//
// oidc-provider writes its notices with console.info (stdout) and console.warn. stdout must carry
// only the ready line, and Node 20 (used here, it works) draws an "unsupported runtime" warning at
// import time, so the console is tamed before the library is loaded (hence the dynamic import).
const DEBUG = process.env.OP_DEBUG === '1';
for (const level of ['info', 'log', 'warn']) {
  console[level] = (...args) => {
    if (!DEBUG && String(args[0] ?? '').includes('oidc-provider')) return;
    // stderr, whatever the level: stdout is reserved for the ready line and the demo banner.
    console.error(...args);
  };
}

const { startProvider } = await import('./provider.js');
const http = await import('node:http');
const fs = await import('node:fs');

function parseArgs(argv) {
  const out = { port: 0, host: '127.0.0.1', config: null, readyJson: false, demo: false, many: false, exitOnStdinClose: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    switch (arg) {
      case '--port': out.port = Number(argv[(i += 1)]); break;
      case '--host': out.host = argv[(i += 1)]; break;
      case '--config': out.config = argv[(i += 1)]; break;
      case '--ready-json': out.readyJson = true; break;
      case '--demo': out.demo = true; break;
      case '--many': out.many = true; break;
      case '--exit-on-stdin-close': out.exitOnStdinClose = true; break;
      default:
        console.error(`unknown argument: ${arg}`);
        process.exit(2);
    }
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    console.error('--port must be an integer in 0..65535');
    process.exit(2);
  }
  if (out.many && (out.config || out.demo)) {
    console.error('--many takes each provider\'s config in its POST /providers, not --config or --demo');
    process.exit(2);
  }
  return out;
}

// A port someone else holds: say so in one line (the caller, e.g. demo.sh, names the fix) rather
// than crash with a stack trace.
function cannotListen(err) {
  if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
    console.error(`test provider: cannot listen on ${args.host}:${args.port} (${err.code})`);
    process.exit(3);
  }
  throw err;
}

const args = parseArgs(process.argv.slice(2));

if (args.exitOnStdinClose) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

if (args.many) {
  const providers = new Map(); // port -> { close }
  const control = http.createServer(async (req, res) => {
    const send = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    try {
      if (req.method === 'POST' && req.url === '/providers') {
        const chunks = [];
        for await (const chunk of req) chunks.push(chunk);
        const body = Buffer.concat(chunks).toString('utf8');
        const started = await startProvider({ host: args.host, config: body ? JSON.parse(body) : {} });
        providers.set(started.port, started);
        return send(201, { issuer: started.issuer, port: started.port });
      }
      const stop = req.method === 'DELETE' && /^\/providers\/(\d+)$/.exec(req.url);
      if (stop) {
        const port = Number(stop[1]);
        const started = providers.get(port);
        if (!started) return send(404, { error: 'no provider on that port' });
        providers.delete(port);
        await started.close();
        return send(200, { ok: true });
      }
      return send(404, { error: 'not_found' });
    } catch (err) {
      if (DEBUG) console.error(err);
      return send(400, { error: 'bad_request', message: String(err.message ?? err) });
    }
  });
  control.on('error', cannotListen);
  control.listen(args.port, args.host, () => {
    if (args.readyJson) process.stdout.write(`${JSON.stringify({ port: control.address().port })}\n`);
  });
} else {
  const config = args.config ? JSON.parse(fs.readFileSync(args.config, 'utf8')) : {};
  const { issuer, port } = await startProvider({ host: args.host, port: args.port, config, demo: args.demo }).catch(cannotListen);
  if (args.demo) {
    const hostForUrl = args.host.includes(':') ? `[${args.host}]` : args.host;
    process.stdout.write(`Test Logto is running.
  LOGTO_ENDPOINT=http://${hostForUrl}:${port}
  issuer:        ${issuer}
  app:           client_id demo-client, client_secret demo-secret
                 redirect http://localhost:3000/callback (or 127.0.0.1), sign-out back to http://localhost:3000/
  users:         demo / demo-password; Hugging Face user via direct_sign_in=social:huggingface
  Stop with Ctrl-C.
`);
  }
  if (args.readyJson) process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
}
