// node exec.mjs NAMESPACE POD CONTAINER STDIN -- COMMAND...   (KUBECONFIG from the env)
// Runs COMMAND in the pod with the official JavaScript client (@kubernetes/client-node
// Exec, the WebSocket channel protocol), writes STDIN to it and ends stdin, and prints one
// JSON line {"out": ..., "err": ..., "status": <the V1Status of the error channel>}.
import { Exec, KubeConfig } from '@kubernetes/client-node';
import { PassThrough, Writable } from 'node:stream';

const args = process.argv.slice(2);
const [namespace, pod, container, stdin] = args;
const command = args.slice(args.indexOf('--') + 1);
const kc = new KubeConfig();
kc.loadFromDefault();
const collect = () => {
  const chunks = [];
  const w = new Writable({ write(chunk, _enc, cb) { chunks.push(Buffer.from(chunk)); cb(); } });
  w.text = () => Buffer.concat(chunks).toString();
  return w;
};
const out = collect();
const err = collect();
const input = new PassThrough();
let status = null;
const done = new Promise((resolve) => {
  new Exec(kc).exec(namespace, pod, container, command, out, err, input, false, (s) => {
    status = s;
    resolve();
  }).then((ws) => ws.on('close', resolve), (e) => {
    console.error(String(e));
    process.exit(2);
  });
});
input.end(stdin);
const timeout = setTimeout(() => { console.error('timed out'); process.exit(3); }, 20000);
await done;
clearTimeout(timeout);
console.log(JSON.stringify({ out: out.text(), err: err.text(), status }));
process.exit(0);
