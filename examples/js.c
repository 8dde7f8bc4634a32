// SPDX-License-Identifier: BSD-2-Clause
/* js: a JavaScript handler on a fresh micro-VM (vmlet-js(7)). ./js */
#include <stdio.h>
#include <vmlet.h>

int main(void)
{
	const char *script = "function add(e) { return {sum: e.a + e.b}; }", *out;
	struct vmlet_js *js;
	int n;

	if (vmlet_js_load(script, NULL, &js))
		return 1;
	n = vmlet_js_event(js, "add", "{\"a\": 1, \"b\": 2}", &out);
	if (n >= 0)
		printf("%.*s\n", n, out);
	vmlet_js_destroy(js);
	return n < 0;
}
