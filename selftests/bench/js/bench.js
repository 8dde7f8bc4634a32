// SPDX-License-Identifier: BSD-2-Clause
//
// Node's side of bench's js group, timed inside Node with
// process.hrtime.bigint(), on the handler vmlet runs (handler.js):
//   node bench.js handler.js REQUEST time N   prints "warm NS ..." and
//                                             "context NS ..." (N samples)
//   node bench.js handler.js REQUEST once     prints the result: bench
//                                             times it from process start
// warm: JSON.stringify(handle(JSON.parse(REQUEST))) in one context;
// context: the same in a new vm context that first runs the script, as a
// fresh V8 context per event would (vmlet's counterpart: a fresh VM from
// the snapshot, where the script is already loaded).
'use strict';

const fs = require('fs');
const vm = require('vm');

const [path, request, mode, n] = process.argv.slice(2);
const source = fs.readFileSync(path, 'utf8');
const script = new vm.Script(source + '\nJSON.stringify(handle(JSON.parse(request)));');
const warmCtx = vm.createContext({request});
vm.runInContext(source, warmCtx);
const handle = warmCtx.handle;

const ops = {
	warm: () => JSON.stringify(handle(JSON.parse(request))),
	context: () => script.runInContext(vm.createContext({request})),
};

if (mode === 'once') {
	process.stdout.write(ops.warm() + '\n');
} else if (mode === 'time') {
	const want = ops.warm();
	const out = [];

	for (const [name, op] of Object.entries(ops)) {
		const ns = [];

		for (let i = 0; i < 20; i++)
			op();
		for (let i = 0; i < Number(n); i++) {
			const t = process.hrtime.bigint();
			const got = op();

			ns.push(Number(process.hrtime.bigint() - t));
			if (got !== want)
				throw new Error(`${name}: ${got}, want ${want}`);
		}
		out.push(`${name} ${ns.join(' ')}`);
	}
	process.stdout.write(out.join('\n') + '\n');
} else {
	throw new Error(`bench.js: unknown mode ${mode}`);
}
