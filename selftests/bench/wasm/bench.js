// SPDX-License-Identifier: BSD-2-Clause
//
// The Wasm side of bench, timed inside Node with process.hrtime.bigint():
//   node bench.js add.wasm time N    prints, per operation, a line
//                                    "NAME PER NS NS ..." of N samples,
//                                    each the time of PER operations
//   node bench.js add.wasm count OP N  runs OP N times, untimed (bench
//                                    counts the syscalls of N against 0)
//   node bench.js add.wasm once      prints add(1, 2) and exits: bench
//                                    times it from process start
// Operations, each checking that add(1, 2) is 3:
//   compile      compile the module from its bytes, instantiate, call
//                (a cold start without the process);
//   instantiate  instantiate the compiled module, call (a fresh sandbox
//                per call);
//   warm         call the export of one instance (a warm call), timed
//                BATCH calls at a time: one call is below the clock's
//                resolution.
'use strict';

const fs = require('fs');

const [path, mode, ...rest] = process.argv.slice(2);
const bytes = fs.readFileSync(path);
const BATCH = 1000;

function check(v) {
	if (v !== 3)
		throw new Error(`add(1, 2) returned ${v}`);
}

const mod = new WebAssembly.Module(bytes);
const add = new WebAssembly.Instance(mod).exports.add;

const ops = {
	compile: [1, () => {
		check(new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.add(1, 2));
	}],
	instantiate: [1, () => {
		check(new WebAssembly.Instance(mod).exports.add(1, 2));
	}],
	warm: [BATCH, () => {
		for (let i = 0; i < BATCH; i++)
			check(add(1, 2));
	}],
};

if (mode === 'once') {
	process.stdout.write(`${add(1, 2)}\n`);
} else if (mode === 'count') {
	const [name, n] = [rest[0], Number(rest[1])];
	for (let i = 0; i < n; i++)
		ops[name][1]();
} else if (mode === 'time') {
	const n = Number(rest[0]);
	const out = [];
	for (const [name, [per, op]] of Object.entries(ops)) {
		for (let i = 0; i < 100; i++)
			op();
		const ns = new Array(n);
		for (let i = 0; i < n; i++) {
			const t = process.hrtime.bigint();
			op();
			ns[i] = Number(process.hrtime.bigint() - t);
		}
		out.push(`${name} ${per} ${ns.join(' ')}\n`);
	}
	process.stdout.write(out.join(''));
} else {
	process.stderr.write('usage: bench.js WASM time N | count OP N | once\n');
	process.exit(2);
}
