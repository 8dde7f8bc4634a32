/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The function symbols of a guest image (its .symtab), to name the
 * addresses of a fault and its backtrace.
 *
 * The section headers and the tables they point at are untrusted like the
 * rest of the file: anything out of bounds or inconsistent makes the
 * table empty (with a reason), never a failure to load the image. A
 * stripped image has an empty table, and its faults carry addresses only.
 */
#ifndef VMLET_SYMTAB_H
#define VMLET_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

struct vmlet_sym {
	uint64_t addr;
	uint64_t size; /* 0: up to the next symbol */
	uint32_t name; /* offset in names */
};

struct vmlet_symtab {
	struct vmlet_sym *syms; /* STT_FUNC symbols sorted by addr */
	size_t nsyms;
	char *names;	 /* NUL-terminated names, one allocation */
	const char *why; /* static: why the table is empty, or NULL */
};

/*
 * Read the function symbols of an ELF64 image of len bytes into *st.
 * Returns 0 (the table may be empty: st->why says why) or -ENOMEM. *st
 * is always initialised and vmlet_symtab_free() may be called on it.
 */
int vmlet_symtab_load(const void *buf, size_t len, struct vmlet_symtab *st);
void vmlet_symtab_free(struct vmlet_symtab *st);

/*
 * The function that holds pc: its name (in st, valid until freed), and
 * *offset from its start; NULL when no symbol covers pc.
 */
const char *vmlet_symtab_lookup(const struct vmlet_symtab *st, uint64_t pc, uint64_t *offset);

#endif /* VMLET_SYMTAB_H */
