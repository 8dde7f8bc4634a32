// SPDX-License-Identifier: BSD-2-Clause
/*
 * Debian's Duktape, compiled as it is shipped (duktape.c is linked, not
 * copied, into the build tree) in this unit, which adds the one thing its
 * API does not give: where in the source the compiler is. A SyntaxError
 * names only the line ("(line 2)"); the token the compiler stopped at
 * also has a byte offset, from which runtimes/js/js.c derives the column.
 */
#include "duktape.c"

long vmlet_duk_compile_offset(duk_context *c);

/* The byte offset of the token being compiled, or -1 outside a compilation. */
long vmlet_duk_compile_offset(duk_context *c)
{
	duk_hthread *thr = (duk_hthread *)c;

	if (!thr->compile_ctx)
		return -1;
	return (long)thr->compile_ctx->curr_token.start_offset;
}
