// SPDX-License-Identifier: BSD-2-Clause
// The handler of bench's js group (hyperlight-bench's shape: a JSON
// request in, some computing, a JSON result out), run by vmlet's
// JavaScript guest and by Node alike. ES5: Duktape has no arrow functions.
function handle(req) {
	var total = 0, names = [];

	for (var i = 0; i < req.items.length; i++) {
		total += req.items[i].price * req.items[i].qty;
		names.push(req.items[i].name.toUpperCase());
	}
	return {id: req.id, total: Math.round(total * 100) / 100, names: names.join(',')};
}
