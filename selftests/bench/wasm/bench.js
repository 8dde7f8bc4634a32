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
//   node bench.js checksum.wasm sum N  the checksum operations, timed as
//                                    "time" does
// Operations, each checking that add(1, 2) is 3:
//   compile      compile the module from its bytes, instantiate, call
//                (a cold start without the process);
//   instantiate  instantiate the compiled module, call (a fresh sandbox
//                per call);
//   warm         call the export of one instance (a warm call), timed
//                BATCH calls at a time: one call is below the clock's
//                resolution.
// and, on wasm/checksum.wasm (the wasm-guest bench's module), what its
// vmlet calls do: vmlet_alloc(4096), copy 4 KiB in, checksum, each
// checking the Adler-32 of the bytes:
//   sum_instantiate  instantiate the compiled module, then that (a fresh
//                    sandbox per call);
//   sum_warm         that on one instance (a warm call).
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

// The bench's 4 KiB (wasmguest.c: data[i] = i * 131 + 7) and its Adler-32.
const data = new Uint8Array(4096).map((_, i) => (i * 131 + 7) & 0xff);
const adler = (() => {
	let a = 1, b = 0;
	for (const x of data) {
		a = (a + x) % 65521;
		b = (b + a) % 65521;
	}
	return ((b << 16) | a) >>> 0;
})();

function sum(e) {
	const p = e.vmlet_alloc(data.length);
	new Uint8Array(e.memory.buffer, p, data.length).set(data);
	const v = e['bytes:checksum'](p, data.length) >>> 0;
	if (v !== adler)
		throw new Error(`checksum returned ${v}, not ${adler}`);
}

const sums = mode === 'sum' ? {
	sum_instantiate: [1, () => sum(new WebAssembly.Instance(mod).exports)],
	sum_warm: [1, (() => {
		const e = new WebAssembly.Instance(mod).exports;
		return () => sum(e);
	})()],
} : {};

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
} else if (mode === 'time' || mode === 'sum') {
	const n = Number(rest[0]);
	const out = [];
	for (const [name, [per, op]] of Object.entries(mode === 'sum' ? sums : ops)) {
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
	process.stderr.write('usage: bench.js WASM time N | count OP N | once | sum N\n');
	process.exit(2);
}
